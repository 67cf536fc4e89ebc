import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ReportError } from './errors.js';

export { ReportError } from './errors.js';

/** One `{"type":"train"}` line of metrics.jsonl. */
export interface TrainPoint {
  step: number;
  loss: number | null;
  accuracy: number | null;
}

/** One stage's figures in an epoch line (busy/wait/send are cumulative since the start of the run). */
export interface StagePoint {
  stage: number;
  busySeconds: number | null;
  waitSeconds: number | null;
  sendSeconds: number | null;
  /** Time the stage's thread was ready but waited for a core (Linux; null elsewhere): part of busy, not work. */
  runQueueSeconds: number | null;
  updates: number | null;
  skippedUpdates: number | null;
  synthesizerUpdates: number | null;
  /** Means over that epoch; null for a stage without a synthesizer. */
  synthesizerLoss: number | null;
  synthesizerCosine: number | null;
}

/** One `{"type":"epoch"}` line of metrics.jsonl. */
export interface EpochPoint {
  epoch: number;
  step: number;
  /** Seconds since the run's first metrics line (null when a `time` field is missing). */
  wallSeconds: number | null;
  trainLoss: number | null;
  trainAccuracy: number | null;
  valAccuracy: number | null;
  valLoss: number | null;
  testAccuracy: number | null;
  testLoss: number | null;
  epochSeconds: number | null;
  samplesPerSecond: number | null;
  stages: StagePoint[];
}

/** One `{"type":"eval"}` line of metrics.jsonl: the test set between epoch ends (train.evalEvery). */
export interface EvalPoint {
  epoch: number;
  step: number;
  /** Seconds since the run's first metrics line (null when a `time` field is missing). */
  wallSeconds: number | null;
  testAccuracy: number | null;
  testLoss: number | null;
}

/** One `{"type":"probe"}` line of metrics.jsonl (train.probeEvery): per stage, the cosine of its gradient with the true one (null: the last stage). Lost probes (`"lost": true`) are left out. */
export interface ProbePoint {
  step: number;
  cosine: (number | null)[];
}

/** A stage of summary.json's `perStage`. */
export interface SummaryStage {
  stage: number;
  layers: string[];
  busySeconds: number | null;
  waitSeconds: number | null;
  sendSeconds: number | null;
  runQueueSeconds: number | null;
  updates: number | null;
  synthesizerLoss: number | null;
  synthesizerCosine: number | null;
}

/** The figures of summary.json the report uses (NaN was written as null). */
export interface RunSummary {
  runId: string | null;
  preset: string | null;
  mode: string | null;
  schedule: string | null;
  window: number | null;
  backend: string | null;
  stages: number | null;
  epochs: number | null;
  steps: number | null;
  batchSize: number | null;
  wallSeconds: number | null;
  trainSeconds: number | null;
  trainSamplesPerSecond: number | null;
  valAccuracy: number | null;
  testAccuracy: number | null;
  testLoss: number | null;
  /** testAccuracyReached['0.97']: the first evaluation at 97% test accuracy (null: not reached, or not recorded). */
  reached97: { step: number; elapsedSeconds: number } | null;
  perStage: SummaryStage[];
}

/** The parts of config.json the report uses. */
export interface RunConfig {
  runId: string | null;
  preset: string | null;
  mode: string | null;
  schedule: string | null;
  window: number | null;
  batchSize: number | null;
  /** train.updateProbability (null when config.json does not give it). */
  updateProbability: number | null;
  /** The backend of each stage (its length is the number of stages). */
  backends: string[];
  /** optimizer.learningRate, decaySteps and decayFactor (null: not in config.json). */
  learningRate: { rate: number; decaySteps: number[]; decayFactor: number } | null;
  /** The whole recorded config (config.json's "config"), for the report's config table. */
  settings: Record<string, unknown>;
}

/** Everything the report knows about one run directory. */
export interface RunData {
  /** Absolute path of the run directory. */
  dir: string;
  /** config.json's runId, else summary.json's, else the directory's name. */
  id: string;
  config: RunConfig;
  /** null: no summary.json (the run has not finished, or crashed). */
  summary: RunSummary | null;
  train: TrainPoint[];
  epochs: EpochPoint[];
  /** Mid-epoch test evaluations (train.evalEvery), in file order. */
  evals: EvalPoint[];
  /** Gradient probes (train.probeEvery), in file order. */
  probes: ProbePoint[];
  /** Seconds from the first to the last metrics line (null without timestamps). */
  metricsSeconds: number | null;
  /** Things a reader of the report should know (torn last line, no summary.json, ...). */
  notes: string[];
}

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A finite number, or null (NaN and Infinity are written as null by JSON.stringify). */
export const num = (o: Json, key: string): number | null => (typeof o[key] === 'number' && Number.isFinite(o[key]) ? (o[key] as number) : null);
export const str = (o: Json, key: string): string | null => (typeof o[key] === 'string' ? (o[key] as string) : null);
export const obj = (o: Json, key: string): Json => (isObject(o[key]) ? (o[key] as Json) : {});

/** A run directory's path, config.json and metrics.jsonl, checked to be there; config.json read. */
export function runFiles(runDir: string): { dir: string; metricsPath: string; rawConfig: Json } {
  const dir = resolve(runDir);
  if (!existsSync(dir)) throw new ReportError(dir, 'no such directory; expected a synthgrad run directory (with config.json and metrics.jsonl)');
  if (!statSync(dir).isDirectory()) throw new ReportError(dir, 'is not a directory; expected a synthgrad run directory (with config.json and metrics.jsonl)');
  const metricsPath = join(dir, 'metrics.jsonl');
  if (!existsSync(metricsPath)) {
    throw new ReportError(dir, 'has no metrics.jsonl; expected a synthgrad run directory (written by synthgrad train or synthgrad sequence)');
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new ReportError(dir, 'has no config.json; expected a synthgrad run directory (written by synthgrad train or synthgrad sequence)');
  return { dir, metricsPath, rawConfig: readJsonObject(configPath) };
}

/** Reads and checks one run directory: config.json, metrics.jsonl and (when present) summary.json. */
export function readRun(runDir: string): RunData {
  const { dir, metricsPath, rawConfig } = runFiles(runDir);
  const notes: string[] = [];
  if (rawConfig.kind === 'sequence') {
    throw new ReportError(dir, 'is a sequence run (synthgrad sequence): read it with readSequenceRun (writeReport draws either kind)');
  }
  const config = parseConfig(rawConfig);
  const summaryPath = join(dir, 'summary.json');
  const summary = existsSync(summaryPath) ? parseSummary(readJsonObject(summaryPath), summaryPath) : null;
  if (!summary) notes.push('no summary.json: the run has not finished (or it crashed); figures come from metrics.jsonl');
  const metrics = parseMetrics(metricsPath, notes);
  if (metrics.epochs.length === 0) notes.push('no epoch line in metrics.jsonl yet');
  const id = config.runId ?? summary?.runId ?? basename(dir);
  return { dir, id, config, summary, ...metrics, notes };
}

export function readJsonObject(path: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ReportError(path, `expected a JSON object, but it cannot be read or parsed (${(error as Error).message})`);
  }
  if (!isObject(value)) throw new ReportError(path, 'expected a JSON object');
  return value;
}

function parseConfig(raw: Json): RunConfig {
  const config = obj(raw, 'config');
  const train = obj(config, 'train');
  const backends = Array.isArray(raw.backends) ? raw.backends.filter((b): b is string => typeof b === 'string') : [];
  return {
    runId: str(raw, 'runId'),
    preset: str(config, 'preset'),
    mode: str(config, 'mode'),
    schedule: str(train, 'schedule'),
    window: num(raw, 'window'),
    batchSize: num(train, 'batchSize'),
    updateProbability: num(train, 'updateProbability'),
    backends,
    learningRate: learningRateOf(obj(config, 'optimizer')),
    settings: config,
  };
}

function learningRateOf(optimizer: Json): RunConfig['learningRate'] {
  const rate = num(optimizer, 'learningRate');
  if (rate === null) return null;
  const decaySteps = Array.isArray(optimizer.decaySteps) ? optimizer.decaySteps.filter((s): s is number => typeof s === 'number' && Number.isFinite(s)) : [];
  return { rate, decaySteps, decayFactor: num(optimizer, 'decayFactor') ?? 0.1 };
}

function parseSummary(raw: Json, path: string): RunSummary {
  if (raw.perStage !== undefined && !Array.isArray(raw.perStage)) throw new ReportError(path, 'expected "perStage" to be an array');
  const perStage = ((raw.perStage as unknown[] | undefined) ?? []).filter(isObject).map(
    (s, i): SummaryStage => ({
      stage: num(s, 'stage') ?? i,
      layers: Array.isArray(s.layers) ? s.layers.map(String) : [],
      busySeconds: num(s, 'busySeconds'),
      waitSeconds: num(s, 'waitSeconds'),
      sendSeconds: num(s, 'sendSeconds'),
      runQueueSeconds: num(s, 'runQueueSeconds'),
      updates: num(s, 'updates'),
      synthesizerLoss: num(s, 'synthesizerLoss'),
      synthesizerCosine: num(s, 'synthesizerCosine'),
    }),
  );
  return {
    runId: str(raw, 'runId'),
    preset: str(raw, 'preset'),
    mode: str(raw, 'mode'),
    schedule: str(raw, 'schedule'),
    window: num(raw, 'window'),
    backend: str(raw, 'backend'),
    stages: num(raw, 'stages'),
    epochs: num(raw, 'epochs'),
    steps: num(raw, 'steps'),
    batchSize: num(raw, 'batchSize'),
    wallSeconds: num(raw, 'wallSeconds'),
    trainSeconds: num(raw, 'trainSeconds'),
    trainSamplesPerSecond: num(raw, 'trainSamplesPerSecond'),
    valAccuracy: num(raw, 'valAccuracy'),
    testAccuracy: num(raw, 'testAccuracy'),
    testLoss: num(raw, 'testLoss'),
    reached97: reachedAt(obj(raw, 'testAccuracyReached'), '0.97'),
    perStage,
  };
}

function reachedAt(reached: Json, key: string): RunSummary['reached97'] {
  const entry = obj(reached, key);
  const step = num(entry, 'step');
  const elapsedSeconds = num(entry, 'elapsedSeconds');
  return step === null || elapsedSeconds === null ? null : { step, elapsedSeconds };
}

/**
 * Parses metrics.jsonl. The last line may be torn (the run was killed while appending it): it is
 * skipped with a note. Any other unreadable line is an error naming the file and line.
 */
function parseMetrics(path: string, notes: string[]): Pick<RunData, 'train' | 'epochs' | 'evals' | 'probes' | 'metricsSeconds'> {
  const train: TrainPoint[] = [];
  const epochs: EpochPoint[] = [];
  const evals: EvalPoint[] = [];
  const probes: ProbePoint[] = [];
  const { lines, metricsSeconds } = metricsLines(path, notes);
  for (const { record, where, wallSeconds } of lines) {
    if (record.type === 'probe' && record.lost === true) continue; // lost with a restarted stage: no cosines
    if (record.type === 'probe') {
      const step = num(record, 'step');
      if (step === null || !Array.isArray(record.cosine)) throw new ReportError(where, 'expected a numeric "step" and a "cosine" array in a probe line');
      probes.push({ step, cosine: record.cosine.map((c) => (typeof c === 'number' && Number.isFinite(c) ? c : null)) });
    } else if (record.type === 'train') {
      const step = num(record, 'step');
      if (step === null) throw new ReportError(where, 'expected a numeric "step" in a train line');
      train.push({ step, loss: num(record, 'loss'), accuracy: num(record, 'accuracy') });
    } else if (record.type === 'epoch' || record.type === 'eval') {
      const epoch = num(record, 'epoch');
      const step = num(record, 'step');
      if (epoch === null || step === null) throw new ReportError(where, `expected numeric "epoch" and "step" in an ${record.type} line`);
      if (record.type === 'eval') {
        evals.push({ epoch, step, wallSeconds, testAccuracy: num(record, 'testAccuracy'), testLoss: num(record, 'testLoss') });
        continue;
      }
      if (record.stages !== undefined && !Array.isArray(record.stages)) throw new ReportError(where, 'expected "stages" to be an array');
      const stages = ((record.stages as unknown[] | undefined) ?? []).filter(isObject).map(
        (s, i): StagePoint => ({
          stage: num(s, 'stage') ?? i,
          busySeconds: num(s, 'busySeconds'),
          waitSeconds: num(s, 'waitSeconds'),
          sendSeconds: num(s, 'sendSeconds'),
          runQueueSeconds: num(s, 'runQueueSeconds'),
          updates: num(s, 'updates'),
          skippedUpdates: num(s, 'skippedUpdates'),
          synthesizerUpdates: num(s, 'synthesizerUpdates'),
          synthesizerLoss: num(s, 'synthesizerLoss'),
          synthesizerCosine: num(s, 'synthesizerCosine'),
        }),
      );
      epochs.push({
        epoch,
        step,
        wallSeconds,
        trainLoss: num(record, 'trainLoss'),
        trainAccuracy: num(record, 'trainAccuracy'),
        valAccuracy: num(record, 'valAccuracy'),
        valLoss: num(record, 'valLoss'),
        testAccuracy: num(record, 'testAccuracy'),
        testLoss: num(record, 'testLoss'),
        epochSeconds: num(record, 'epochSeconds'),
        samplesPerSecond: num(record, 'samplesPerSecond'),
        stages,
      });
    }
    // Other record types (future additions) are ignored.
  }
  return { train, epochs, evals, probes, metricsSeconds };
}

/** One JSON line of metrics.jsonl, where it is (for messages), and its seconds since the first line's time. */
export interface MetricsLine {
  record: Json;
  where: string;
  wallSeconds: number | null;
}

/**
 * The JSON objects of metrics.jsonl. The last line may be torn (the run was killed while appending
 * it): it is skipped with a note. Any other unreadable line is an error naming the file and line.
 * metricsSeconds: from the first to the last line's time (null without timestamps).
 */
export function metricsLines(path: string, notes: string[]): { lines: MetricsLine[]; metricsSeconds: number | null } {
  const text = readFileSync(path, 'utf8').split('\n');
  const lastIndex = text.map((l) => l.trim() !== '').lastIndexOf(true);
  const lines: MetricsLine[] = [];
  let firstTime: number | null = null;
  let lastTime: number | null = null;
  const seconds = (time: number | null) => (time === null || firstTime === null ? null : (time - firstTime) / 1000);
  for (const [index, line] of text.entries()) {
    if (line.trim() === '') continue;
    const where = `${path} line ${index + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      if (index === lastIndex) {
        notes.push(`metrics.jsonl: the last line (${index + 1}) is incomplete and was skipped`);
        continue;
      }
      throw new ReportError(where, 'expected one JSON object per line');
    }
    if (!isObject(record)) throw new ReportError(where, 'expected one JSON object per line');
    const parsedTime = typeof record.time === 'string' ? Date.parse(record.time) : NaN;
    const time = Number.isFinite(parsedTime) ? parsedTime : null;
    if (time !== null) {
      firstTime ??= time;
      lastTime = time;
    }
    lines.push({ record, where, wallSeconds: seconds(time) });
  }
  return { lines, metricsSeconds: seconds(lastTime) };
}
