import type { Summary } from '../../run/summary.js';
import type { StageStats, StageTimes } from '../../stage/protocol.js';
import { parallelismBound, sendShare, utilisation } from './bound.js';
import type { LoadSample } from './load.js';
import { median } from './stats.js';
import { SEQUENTIAL } from './plan.js';

/** A stage's times in a run (sequential runs have no sends or CPU times: one thread does all). */
export type StageFigures = Omit<StageTimes, 'runQueueSeconds'> & Partial<Pick<StageStats, 'synthesizerRepredictions'>>;

export interface StageShares extends StageFigures {
  /** busy / (busy + wait) */
  utilisation: number;
  /** send / busy (wall clock: also the moments the sender lost its core to the thread it woke) */
  sendShare: number;
  /** sends × median send / busy: what sending took; NaN when not measured */
  typicalSendShare: number;
  /** receive / busy (wall clock, like sendShare); NaN when not measured */
  receiveShare: number;
  /** (sends × median send + receives × median receive) / busy: what moving the messages took; NaN when not measured */
  typicalMessageShare: number;
}

/** One repetition of one configuration. */
export interface RunRecord {
  config: string;
  repetition: number;
  /** Position in the interleaved order, from 0. */
  index: number;
  outDir: string;
  mode: string;
  schedule: string;
  window: number;
  backend: string;
  steps: number;
  batchSize: number;
  wallSeconds: number;
  trainSeconds: number;
  /** Over the whole run, warm-up included. */
  trainSamplesPerSecond: number;
  /** The first step measured: the steps before it warmed up (JIT compilation in every thread, caches). */
  warmupSteps: number;
  /** Over the steps from warmupSteps on: the run's figure in medians and speedups. */
  samplesPerSecond: number;
  /**
   * 'training': the stage times at the end of training, before the final evaluation (from the last
   * epoch record); 'summary': the summary's, which include the evaluation passes.
   */
  stageSource: 'training' | 'summary';
  stages: StageShares[];
  /** min(cores, Σ busy / max busy) of this run. */
  bound: number;
  /** Each stage thread's nice value from train.priorities (null: left alone). */
  nice: (number | null)[];
  load: LoadSample;
}

/** What a run record is made of: a run's summary.json, or a sequential run's result. */
export type RunFigures = Pick<
  Summary,
  'outDir' | 'mode' | 'schedule' | 'window' | 'backend' | 'steps' | 'batchSize' | 'wallSeconds' | 'trainSeconds' | 'trainSamplesPerSecond'
> & { perStage: (StageFigures & { nice?: number })[] };

/** count × median in seconds; NaN when either is missing. */
function typicalSeconds(count: number | undefined, medianMs: number | null | undefined): number {
  return count !== undefined && medianMs != null ? (count * medianMs) / 1000 : NaN;
}

function shares(s: StageFigures): StageShares {
  const typicalSend = typicalSeconds(s.sends, s.sendMedianMs);
  return {
    ...s,
    utilisation: utilisation(s.busySeconds, s.waitSeconds),
    sendShare: sendShare(s.sendSeconds, s.busySeconds),
    typicalSendShare: sendShare(typicalSend, s.busySeconds),
    receiveShare: sendShare(s.receiveSeconds ?? NaN, s.busySeconds),
    typicalMessageShare: sendShare(typicalSend + typicalSeconds(s.receives, s.receiveMedianMs), s.busySeconds),
  };
}

/** The figures of a stage that a run record keeps. */
function figures(s: StageFigures): StageFigures {
  const { stage, busySeconds, waitSeconds, sendSeconds, sends, sendMedianMs, receiveSeconds, receives, receiveMedianMs, cpuSeconds, synthesizerRepredictions } = s;
  return {
    stage,
    busySeconds,
    waitSeconds,
    sendSeconds,
    ...(sends !== undefined && { sends, sendMedianMs }),
    ...(receives !== undefined && { receiveSeconds, receives, receiveMedianMs }),
    ...(cpuSeconds !== undefined && { cpuSeconds }),
    ...(synthesizerRepredictions !== undefined && { synthesizerRepredictions }),
  };
}

/** Where the measured steps start: the steps done and the training time until then. */
export interface WarmupMark {
  step: number;
  trainSeconds: number;
}

/** Samples/s over the steps after `mark` (the whole run without one, or when nothing is left after it). */
export function samplesPerSecondAfter(run: Pick<RunFigures, 'steps' | 'batchSize' | 'trainSeconds' | 'trainSamplesPerSecond'>, mark?: WarmupMark | null): number {
  if (!mark || mark.step >= run.steps || run.trainSeconds <= mark.trainSeconds) return run.trainSamplesPerSecond;
  return ((run.steps - mark.step) * run.batchSize) / (run.trainSeconds - mark.trainSeconds);
}

/**
 * The figures of one run. `trainingStages` (the stats of the last epoch record) are preferred when
 * they cover every step: the summary's stage times also count the validation and test passes.
 * `warmup` marks where the measured steps start (stage times still cover the whole run).
 */
export function runRecord(
  summary: RunFigures,
  meta: { config: string; repetition: number; index: number; load: LoadSample; cores: number },
  trainingStages?: { step: number; stages: StageFigures[] } | null,
  warmup?: WarmupMark | null,
): RunRecord {
  const useTraining = !!trainingStages && trainingStages.step === summary.steps && trainingStages.stages.length === summary.perStage.length;
  const source = useTraining ? trainingStages!.stages : summary.perStage;
  const stages = source.map((s) => shares(figures(s)));
  return {
    config: meta.config,
    repetition: meta.repetition,
    index: meta.index,
    outDir: summary.outDir,
    mode: summary.mode,
    schedule: summary.schedule,
    window: summary.window,
    backend: summary.backend,
    steps: summary.steps,
    batchSize: summary.batchSize,
    wallSeconds: summary.wallSeconds,
    trainSeconds: summary.trainSeconds,
    trainSamplesPerSecond: summary.trainSamplesPerSecond,
    warmupSteps: warmup && warmup.step < summary.steps ? warmup.step : 0,
    samplesPerSecond: samplesPerSecondAfter(summary, warmup),
    stageSource: useTraining ? 'training' : 'summary',
    stages,
    bound: parallelismBound(stages.map((s) => s.busySeconds), meta.cores),
    nice: summary.perStage.map((s) => s.nice ?? null),
    load: meta.load,
  };
}

/** Medians over the repetitions of one configuration. */
export interface ConfigAggregate {
  config: string;
  repetitions: number;
  /** Each repetition's samples/s after warm-up, and their median. */
  samplesPerSecond: number[];
  medianSamplesPerSecond: number;
  /** The median over repetitions of samples/s over the whole run, warm-up included. */
  medianWholeRunSamplesPerSecond: number;
  /** Per stage: the median of each time, and the shares computed from those medians. */
  stages: StageShares[];
  /** Median over repetitions of each run's bound. */
  bound: number;
  medianOthersLoadCores: number | null;
}

export function aggregate(runs: readonly RunRecord[]): ConfigAggregate[] {
  const names = [...new Set(runs.map((r) => r.config))];
  return names.map((config) => {
    const mine = runs.filter((r) => r.config === config);
    const stageCount = Math.max(...mine.map((r) => r.stages.length));
    const stages = Array.from({ length: stageCount }, (_, i) => {
      const values = (f: (s: StageFigures) => number | null | undefined) =>
        mine.flatMap((r) => {
          const v = r.stages[i] ? f(r.stages[i]) : null;
          return v === null || v === undefined ? [] : [v];
        });
      const pick = (f: (s: StageFigures) => number) => median(values(f));
      const optional = (f: (s: StageFigures) => number | null | undefined) => {
        const v = values(f);
        return v.length === mine.length ? median(v) : undefined;
      };
      const sends = optional((s) => s.sends);
      const sendMedianMs = optional((s) => s.sendMedianMs);
      const receives = optional((s) => s.receives);
      const receiveSeconds = optional((s) => s.receiveSeconds);
      const receiveMedianMs = optional((s) => s.receiveMedianMs);
      const cpuSeconds = optional((s) => s.cpuSeconds);
      const synthesizerRepredictions = optional((s) => s.synthesizerRepredictions);
      return shares({
        stage: i,
        busySeconds: pick((s) => s.busySeconds),
        waitSeconds: pick((s) => s.waitSeconds),
        sendSeconds: pick((s) => s.sendSeconds),
        ...(sends !== undefined && { sends, sendMedianMs: sendMedianMs ?? null }),
        ...(receives !== undefined && { receiveSeconds, receives, receiveMedianMs: receiveMedianMs ?? null }),
        ...(cpuSeconds !== undefined && { cpuSeconds }),
        ...(synthesizerRepredictions !== undefined && { synthesizerRepredictions }),
      });
    });
    const loads = mine.flatMap((r) => (r.load.othersLoadCores === null ? [] : [r.load.othersLoadCores]));
    return {
      config,
      repetitions: mine.length,
      samplesPerSecond: mine.map((r) => r.samplesPerSecond),
      medianSamplesPerSecond: median(mine.map((r) => r.samplesPerSecond)),
      medianWholeRunSamplesPerSecond: median(mine.map((r) => r.trainSamplesPerSecond)),
      stages,
      bound: median(mine.map((r) => r.bound)),
      medianOthersLoadCores: loads.length ? median(loads) : null,
    };
  });
}

/** A ratio of median samples/s, with the bound of the faster schedule where there is one. */
export interface Speedup {
  numerator: string;
  denominator: string;
  speedup: number;
  /**
   * The median of each repetition's own ratio (repetition k of one over repetition k of the
   * other, run one after the other): steadier than the ratio of medians when the machine's speed
   * drifts during the bench. Null when the two have different numbers of repetitions.
   */
  paired: number | null;
  /** The parallelism bound of the numerator's runs (null when comparing two parallel schedules). */
  bound: number | null;
  /** speedup / bound */
  ofBound: number | null;
  /**
   * Over lockstep, when the mode's sequential configuration ran too: the bound scaled by
   * sequential / lockstep samples/s. The bound holds over the sequential baseline, and DNI
   * lockstep in workers already overlaps stages, so this is what the schedule can reach over it.
   */
  lockstepBound?: { bound: number; ofBound: number };
}

/**
 * For each mode: lockstep over sequential (what workers alone give), async over lockstep and over
 * sequential, pipelined over lockstep and over sequential (each with its own runs' bound), and
 * pipelined over async; only for configurations that were run.
 */
export function speedups(aggregates: readonly ConfigAggregate[]): Speedup[] {
  const by = new Map(aggregates.map((a) => [a.config, a]));
  const modes = [...new Set(aggregates.map((a) => a.config.split('/')[0]))];
  const out: Speedup[] = [];
  for (const mode of modes) {
    const pairs: [string, string, boolean][] = [
      ['lockstep', SEQUENTIAL, false],
      ['async', 'lockstep', true],
      ['async', SEQUENTIAL, true],
      ['pipelined', 'lockstep', true],
      ['pipelined', SEQUENTIAL, true],
      ['pipelined', 'async', false],
    ];
    for (const [fast, slow, withBound] of pairs) {
      const a = by.get(`${mode}/${fast}`);
      const b = by.get(`${mode}/${slow}`);
      if (!a || !b) continue;
      const speedup = a.medianSamplesPerSecond / b.medianSamplesPerSecond;
      const bound = withBound && Number.isFinite(a.bound) ? a.bound : null;
      const sequential = by.get(`${mode}/${SEQUENTIAL}`);
      const overLockstep = bound && slow === 'lockstep' && sequential ? (bound * sequential.medianSamplesPerSecond) / b.medianSamplesPerSecond : null;
      out.push({
        numerator: a.config,
        denominator: b.config,
        speedup,
        paired: pairedRatio(a.samplesPerSecond, b.samplesPerSecond),
        bound,
        ofBound: bound ? speedup / bound : null,
        ...(overLockstep && { lockstepBound: { bound: overLockstep, ofBound: speedup / overLockstep } }),
      });
    }
  }
  return out;
}

/** The median of a[k] / b[k]; null when the lists differ in length or are empty. */
export function pairedRatio(a: readonly number[], b: readonly number[]): number | null {
  if (a.length === 0 || a.length !== b.length) return null;
  return median(a.map((x, k) => x / b[k]));
}
