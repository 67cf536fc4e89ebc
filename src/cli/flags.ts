import { InvalidArgumentError } from 'commander';

export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number (0 or more), got "${value}"`);
  return n;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}

/** Comma-separated hidden widths, e.g. '128,128' ('' for none). */
export function layerWidths(value: string): number[] {
  if (value.trim() === '') return [];
  return value.split(',').map((v) => positiveInt(v.trim()));
}

export function number(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

/** --stages '[[0],[1,2,3]]': layer indices of each stage, as JSON (checked with the rest of the config). */
export function stageGroups(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidArgumentError(`expected JSON like '[[0],[1,2,3]]' (layer indices of each stage), got "${value}"`);
  }
}

/** --lambda 0.5 (a constant λ) or 1:0:2000 (from 1 to 0 over 2000 steps): bp-lambda's schedule, checked with the config. */
export function lambdaSchedule(value: string): { start: number; end: number; steps: number } {
  const parts = value.split(':');
  const numbers = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
  if ((parts.length !== 1 && parts.length !== 3) || numbers.some((n) => !Number.isFinite(n))) {
    throw new InvalidArgumentError(`expected a constant λ (e.g. 0.5) or start:end:steps (e.g. 1:0:2000), got "${value}"`);
  }
  return parts.length === 1 ? { start: numbers[0], end: numbers[0], steps: 0 } : { start: numbers[0], end: numbers[1], steps: numbers[2] };
}

/** --stage-modes cdni,backprop,cdni,backprop: one mode per stage, checked with the config. */
export function modeList(value: string): string[] {
  return value.split(',').map((m) => m.trim());
}

/** Seeds may be numbers or words. */
export function seed(value: string): number | string {
  return /^-?\d+$/.test(value) ? Number(value) : value;
}

/** The train flags, as given (undefined when absent). */
export interface TrainFlags {
  preset?: string;
  config?: string;
  mode?: string;
  lambda?: { start: number; end: number; steps: number };
  labels?: string;
  stageModes?: string[];
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number | string;
  backend?: string;
  schedule?: string;
  window?: number;
  updateProbability?: number;
  stages?: unknown;
  maxSteps?: number;
  data?: string;
  out?: string;
  resume?: string;
  checkpointEvery?: number;
  evalEvery?: number;
  probeEvery?: number;
  maxRestarts?: number;
  skipNonfinite?: boolean;
  placement?: 'thread' | 'process';
  transport?: 'ports' | 'nats';
  nats?: string;
  run?: string;
  joinTimeout: number;
  logLevel: string;
  progress: boolean;
}

/** Flags as a partial config (validated later with the rest). */
export function flagsToConfig(flags: TrainFlags): Record<string, unknown> {
  return {
    mode: flags.mode,
    lambda: flags.lambda,
    labels: flags.labels,
    stageModes: flags.stageModes,
    backend: flags.backend,
    placement: flags.placement,
    data: flags.data,
    out: flags.out,
    stages: flags.stages,
    optimizer: { learningRate: flags.lr },
    train: {
      epochs: flags.epochs,
      batchSize: flags.batchSize,
      seed: flags.seed,
      schedule: flags.schedule,
      window: flags.window,
      updateProbability: flags.updateProbability,
      maxSteps: flags.maxSteps,
      checkpointEvery: flags.checkpointEvery,
      evalEvery: flags.evalEvery,
      probeEvery: flags.probeEvery,
      maxRestarts: flags.maxRestarts,
      skipNonFinite: flags.skipNonfinite,
    },
  };
}

/** Flags that change the config, by name, when given (a resumed run keeps its own config). */
export function configFlagsGiven(flags: TrainFlags): string[] {
  const names: [keyof TrainFlags, string][] = [
    ['preset', '--preset'], ['config', '--config'], ['mode', '--mode'], ['lambda', '--lambda'], ['labels', '--labels'], ['stageModes', '--stage-modes'], ['epochs', '--epochs'], ['batchSize', '--batch-size'],
    ['lr', '--lr'], ['seed', '--seed'], ['backend', '--backend'], ['schedule', '--schedule'], ['window', '--window'],
    ['updateProbability', '--update-probability'], ['stages', '--stages'], ['maxSteps', '--max-steps'], ['data', '--data'], ['out', '--out'],
    ['checkpointEvery', '--checkpoint-every'], ['evalEvery', '--eval-every'], ['probeEvery', '--probe-every'], ['maxRestarts', '--max-restarts'], ['skipNonfinite', '--skip-nonfinite'],
  ];
  return names.filter(([key]) => flags[key] !== undefined).map(([, flag]) => flag);
}
