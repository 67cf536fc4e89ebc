import type { RunData, RunSummary } from './read-run.js';

/** The summary figures of one run: from summary.json, or from config.json and metrics.jsonl when it is missing. */
export type RunFigures = Pick<
  RunSummary,
  'preset' | 'mode' | 'schedule' | 'window' | 'backend' | 'stages' | 'epochs' | 'steps' | 'wallSeconds' | 'valAccuracy' | 'testAccuracy' | 'testLoss'
> & {
  samplesPerSecond: number | null;
  /** The first evaluation at 97% test accuracy (summary.json's testAccuracyReached; null: not reached, or unknown). */
  reached97: { step: number; elapsedSeconds: number } | null;
  /** Per stage, the mean cosine with the true gradient over the run's gradient probes. */
  probeCosines: (number | null)[];
  /** false: no summary.json, the figures are estimated from metrics.jsonl (the run is unfinished). */
  fromSummary: boolean;
};

export interface StageUtilisation {
  stage: number;
  busySeconds: number | null;
  waitSeconds: number | null;
  /** Time the stage was ready but waited for a core (counted in busy; null where not measured). */
  runQueueSeconds: number | null;
  /** Work / (busy + wait), work being busy less the run-queue time; null when unknown. */
  utilisation: number | null;
}

/** Per-stage utilisation: summary.json's perStage, else the last epoch line's (cumulative) stage figures. */
export interface RunUtilisation {
  source: 'summary.json' | 'last epoch line' | null;
  stages: StageUtilisation[];
}

export function runFigures(run: RunData): RunFigures {
  const s = run.summary;
  const last = run.epochs.at(-1);
  if (s) {
    return {
      preset: s.preset ?? run.config.preset,
      mode: s.mode ?? run.config.mode,
      schedule: s.schedule ?? run.config.schedule,
      window: s.window ?? run.config.window,
      backend: s.backend ?? uniqueBackends(run),
      stages: s.stages ?? (s.perStage.length || null),
      epochs: s.epochs,
      steps: s.steps,
      wallSeconds: s.wallSeconds,
      samplesPerSecond: s.trainSamplesPerSecond,
      valAccuracy: s.valAccuracy,
      testAccuracy: s.testAccuracy,
      testLoss: s.testLoss,
      reached97: s.reached97,
      probeCosines: meanProbeCosines(run),
      fromSummary: true,
    };
  }
  let samples = 0;
  let seconds = 0;
  for (const e of run.epochs) {
    if (e.samplesPerSecond !== null && e.epochSeconds !== null) {
      samples += e.samplesPerSecond * e.epochSeconds;
      seconds += e.epochSeconds;
    }
  }
  const steps = [...run.train, ...run.epochs].reduce((max, r) => Math.max(max, r.step), -Infinity);
  return {
    preset: run.config.preset,
    mode: run.config.mode,
    schedule: run.config.schedule,
    window: run.config.window,
    backend: uniqueBackends(run),
    stages: run.config.backends.length || last?.stages.length || null,
    epochs: last?.epoch ?? null,
    steps: Number.isFinite(steps) ? steps : null,
    wallSeconds: run.metricsSeconds,
    samplesPerSecond: seconds > 0 ? samples / seconds : null,
    valAccuracy: last?.valAccuracy ?? null,
    testAccuracy: last?.testAccuracy ?? null,
    testLoss: last?.testLoss ?? null,
    reached97: null,
    probeCosines: meanProbeCosines(run),
    fromSummary: false,
  };
}

export function runUtilisation(run: RunData): RunUtilisation {
  const perStage = run.summary?.perStage ?? [];
  const last = run.epochs.at(-1)?.stages ?? [];
  const [source, stages] = perStage.length ? (['summary.json', perStage] as const) : last.length ? (['last epoch line', last] as const) : ([null, []] as const);
  return {
    source,
    stages: stages.map((s) => ({
      stage: s.stage,
      busySeconds: s.busySeconds,
      waitSeconds: s.waitSeconds,
      runQueueSeconds: s.runQueueSeconds,
      utilisation: utilisation(s.busySeconds, s.waitSeconds, s.runQueueSeconds),
    })),
  };
}

/** The share of a stage's time spent working: busy time less the time it waited for a core, over busy + wait. */
export function utilisation(busy: number | null, wait: number | null, runQueue: number | null): number | null {
  if (busy === null || wait === null || busy + wait <= 0) return null;
  return Math.max(0, busy - (runQueue ?? 0)) / (busy + wait);
}

function uniqueBackends(run: RunData): string | null {
  const unique = [...new Set(run.config.backends)];
  return unique.length ? unique.join(', ') : null;
}

/** Per stage, the mean over a run's gradient probes of the cosine with the true gradient (null: no probe, or the last stage). */
export function meanProbeCosines(run: RunData): (number | null)[] {
  const stages = Math.max(0, ...run.probes.map((p) => p.cosine.length));
  return Array.from({ length: stages }, (_, s) => {
    const values = run.probes.map((p) => p.cosine[s]).filter((c): c is number => c !== null && c !== undefined);
    return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  });
}
