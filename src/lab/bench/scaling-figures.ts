import { parallelismBound } from './bound.js';
import { median } from './stats.js';

/** What one stage's thread used over the timed steps, in milliseconds (totals, not per step). */
export interface StageCpu {
  /** Time on a core (/proc/thread-self/schedstat). */
  cpuMs: number;
  /** Time ready to run but waiting for a core. */
  runQueueMs: number;
}

/** Every stage in one thread, one after another per step. */
export interface OneThreadRun {
  wallMs: number;
  stages: StageCpu[];
  /** Cores other processes kept busy meanwhile (null: unknown). */
  othersLoadCores: number | null;
}

/** One free-running worker thread per stage, released together, no messages between them. */
export interface FreeRunningRun {
  /** wallMs: from the common start to the stage's last step. */
  stages: (StageCpu & { wallMs: number })[];
  othersLoadCores: number | null;
}

/** One repetition: both arrangements, run one after the other. */
export interface ScalingRun {
  oneThread: OneThreadRun;
  threads: FreeRunningRun;
}

export interface ScalingSettings {
  steps: number;
  batchSize: number;
  /** Cores of the bound (os.availableParallelism()). */
  cores: number;
}

/** One stage's figures, per step. */
export interface StageScaling {
  stage: number;
  oneThreadCpuMs: number;
  threadCpuMs: number;
  /** threadCpuMs / oneThreadCpuMs. */
  cpuRatio: number;
  oneThreadRunQueueMs: number;
  threadRunQueueMs: number;
  /** Wall time per step of the stage's own thread, from the common start. */
  threadWallMs: number;
}

/** The figures of one repetition (or their medians). NaN where unknown (JSON: null). */
export interface ScalingFigures {
  stages: StageScaling[];
  /** Σ over stages of CPU ms per step. */
  oneThreadCpuMs: number;
  threadsCpuMs: number;
  /** threadsCpuMs / oneThreadCpuMs: how much more CPU the same work takes when the stages run at once. */
  cpuRatio: number;
  /** steps·batch / wall time. */
  oneThreadSamplesPerSecond: number;
  /** steps·batch / wall time of the slowest stage thread. */
  threadsSamplesPerSecond: number;
  /** threadsSamplesPerSecond / oneThreadSamplesPerSecond. */
  speedup: number;
  /** min(cores, Σ busy / max busy) of the one-thread stage CPU times. */
  bound: number;
  oneThreadOthersLoadCores: number;
  threadsOthersLoadCores: number;
}

export interface StageScalingReport {
  settings: ScalingSettings;
  repetitions: ScalingFigures[];
  /** Every figure's median over the repetitions (so a median ratio is not the ratio of medians). */
  median: ScalingFigures;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** The reported figures of one repetition. */
export function runFigures(run: ScalingRun, settings: ScalingSettings): ScalingFigures {
  const { steps, batchSize, cores } = settings;
  const perStep = (ms: number) => ms / steps;
  const stages = run.oneThread.stages.map((one, s): StageScaling => {
    const own = run.threads.stages[s];
    return {
      stage: s,
      oneThreadCpuMs: perStep(one.cpuMs),
      threadCpuMs: perStep(own.cpuMs),
      cpuRatio: own.cpuMs / one.cpuMs,
      oneThreadRunQueueMs: perStep(one.runQueueMs),
      threadRunQueueMs: perStep(own.runQueueMs),
      threadWallMs: perStep(own.wallMs),
    };
  });
  const oneThreadCpuMs = sum(stages.map((s) => s.oneThreadCpuMs));
  const threadsCpuMs = sum(stages.map((s) => s.threadCpuMs));
  const samples = steps * batchSize;
  const oneThreadSamplesPerSecond = samples / (run.oneThread.wallMs / 1000);
  const threadsSamplesPerSecond = samples / (Math.max(...run.threads.stages.map((s) => s.wallMs)) / 1000);
  return {
    stages,
    oneThreadCpuMs,
    threadsCpuMs,
    cpuRatio: threadsCpuMs / oneThreadCpuMs,
    oneThreadSamplesPerSecond,
    threadsSamplesPerSecond,
    speedup: threadsSamplesPerSecond / oneThreadSamplesPerSecond,
    bound: parallelismBound(run.oneThread.stages.map((s) => s.cpuMs), cores),
    oneThreadOthersLoadCores: run.oneThread.othersLoadCores ?? NaN,
    threadsOthersLoadCores: run.threads.othersLoadCores ?? NaN,
  };
}

/** Field by field (arrays element by element), the median of records of one shape. */
export function medianOf<T>(items: readonly T[]): T {
  const first: unknown = items[0];
  if (typeof first === 'number') return median(items as readonly number[]) as T;
  if (Array.isArray(first)) return first.map((_, i) => medianOf(items.map((x) => (x as unknown[])[i]))) as T;
  const keys = Object.keys(first as object);
  return Object.fromEntries(keys.map((k) => [k, medianOf(items.map((x) => (x as Record<string, unknown>)[k]))])) as T;
}

/** Every repetition's figures and their medians. */
export function scalingReport(runs: readonly ScalingRun[], settings: ScalingSettings): StageScalingReport {
  if (runs.length === 0) throw new Error('scalingReport: no repetitions');
  const repetitions = runs.map((run) => runFigures(run, settings));
  return { settings, repetitions, median: medianOf(repetitions) };
}
