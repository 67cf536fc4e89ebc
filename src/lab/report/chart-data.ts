import type { RunData } from './read-run.js';
import { runUtilisation, type StageUtilisation } from './figures.js';
import { runLabels } from './differences.js';
import { learningRateAt } from '../../stage/learning-rate.js';
import { errorByUpdateProbability, type ProbabilitySeries } from './update-probability.js';

/** One colour per run (Tableau 10), then evenly spread hues. */
export function runColor(index: number): string {
  const palette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  if (index < palette.length) return palette[index];
  return `hsl(${Math.round((index * 137.508) % 360)}, 60%, 45%)`;
}

export interface XY {
  x: number;
  y: number | null;
}

/** What the page script draws, for one run. */
export interface ChartRun {
  label: string;
  color: string;
  /** Training loss and accuracy against step (train lines: means over each logged interval, training mode). */
  loss: XY[];
  trainAccuracy: XY[];
  /** Validation and test loss against step (test: also the mid-epoch evaluations). */
  valLossByStep: XY[];
  testLossByStep: XY[];
  /** The learning rate against step (a step function: a point at 0, at each decay step, and at the last step). */
  learningRate: XY[];
  /** The steps at which the learning rate decays (within the run). */
  decaySteps: number[];
  /** Validation and test accuracy against step and against wall seconds (test: also the mid-epoch evaluations). */
  valByStep: XY[];
  testByStep: XY[];
  valByTime: XY[];
  testByTime: XY[];
  /** Stages with a synthesizer: its loss and cosine against epoch. */
  synthesizers: { stage: number; loss: XY[]; cosine: XY[] }[];
  /** Gradient probes (train.probeEvery): per stage below the last, the cosine with the true gradient against step. */
  probes: { stage: number; cosine: XY[] }[];
  utilisation: StageUtilisation[];
}

export interface ChartData {
  runs: ChartRun[];
  /** Bar labels of the utilisation chart: stage 0 .. the largest stage count. */
  stageLabels: string[];
  /** Per chart id, a line saying which runs have nothing to draw there (empty when all do). */
  notes: Record<ChartId, string>;
  /** Test error against update probability, one series per mode, when the runs differ in p (else null: no such chart). */
  errorVsP: ProbabilitySeries[] | null;
}

export const chartIds = ['loss', 'eval-loss', 'train-accuracy', 'accuracy-step', 'accuracy-time', 'learning-rate', 'synth-loss', 'synth-cosine', 'true-cosine', 'utilisation'] as const;
export type ChartId = (typeof chartIds)[number];

export function chartData(runs: RunData[]): ChartData {
  const labels = runLabels(runs);
  const chartRuns = runs.map((run, i) => chartRun(run, i, labels[i]));
  const stageCount = chartRuns.reduce((n, r) => Math.max(n, ...r.utilisation.map((s) => s.stage + 1)), 0);
  const lacking = (has: (r: ChartRun, run: RunData) => boolean) =>
    chartRuns.filter((r, i) => !has(r, runs[i])).map((r) => r.label);
  const note = (what: string, names: string[]) => (names.length ? `${what}: ${names.join('; ')}` : '');
  const hasEpochs = (r: ChartRun) => r.valByStep.length > 0;
  const utilisationSources = runs.map((run) => runUtilisation(run).source);
  return {
    runs: chartRuns,
    stageLabels: Array.from({ length: stageCount }, (_, s) => `stage ${s}`),
    notes: {
      loss: note('No training-loss line yet', lacking((r) => r.loss.length > 0)),
      'eval-loss': note('No epoch line yet', lacking(hasEpochs)),
      'train-accuracy': note('No training line with an accuracy yet', lacking((r) => r.trainAccuracy.length > 0)),
      'learning-rate': note('No learning rate in config.json', lacking((r) => r.learningRate.length > 0)),
      'accuracy-step': note('No epoch line yet', lacking(hasEpochs)),
      'accuracy-time': note('No epoch line yet', lacking(hasEpochs)),
      'synth-loss': note('No synthesizer figures (backprop, or no epoch line yet)', lacking((r) => r.synthesizers.length > 0)),
      'synth-cosine': note('No synthesizer figures (backprop, or no epoch line yet)', lacking((r) => r.synthesizers.length > 0)),
      'true-cosine': note('No gradient probe (train.probeEvery unset, or none yet)', lacking((r) => r.probes.length > 0)),
      utilisation: [
        note('No stage figures yet', chartRuns.filter((_, i) => utilisationSources[i] === null).map((r) => r.label)),
        note('From the last epoch line (no summary.json)', chartRuns.filter((_, i) => utilisationSources[i] === 'last epoch line').map((r) => r.label)),
      ]
        .filter(Boolean)
        .join('. '),
    },
    errorVsP: errorByUpdateProbability(runs),
  };
}

function chartRun(run: RunData, index: number, label: string): ChartRun {
  const stages = new Map<number, { stage: number; loss: XY[]; cosine: XY[] }>();
  for (const e of run.epochs) {
    for (const s of e.stages) {
      if (s.synthesizerLoss === null && s.synthesizerCosine === null) continue;
      const entry = stages.get(s.stage) ?? { stage: s.stage, loss: [], cosine: [] };
      entry.loss.push({ x: e.epoch, y: s.synthesizerLoss });
      entry.cosine.push({ x: e.epoch, y: s.synthesizerCosine });
      stages.set(s.stage, entry);
    }
  }
  const timed = run.epochs.filter((e) => e.wallSeconds !== null);
  const tests = [...run.epochs, ...run.evals].sort((a, b) => a.step - b.step);
  const timedTests = tests.filter((e) => e.wallSeconds !== null);
  const lastStep = Math.max(0, ...run.train.map((t) => t.step), ...tests.map((e) => e.step), run.summary?.steps ?? 0);
  const lr = run.config.learningRate;
  const decaySteps = lr ? lr.decaySteps.filter((s) => s > 0 && s <= lastStep).sort((a, b) => a - b) : [];
  const rateAt = (step: number) => (lr ? learningRateAt(step, lr.rate, lr.decaySteps, lr.decayFactor) : null);
  return {
    label,
    color: runColor(index),
    loss: run.train.map((t) => ({ x: t.step, y: t.loss })),
    trainAccuracy: run.train.filter((t) => t.accuracy !== null).map((t) => ({ x: t.step, y: t.accuracy })),
    valLossByStep: run.epochs.map((e) => ({ x: e.step, y: e.valLoss })),
    testLossByStep: tests.map((e) => ({ x: e.step, y: e.testLoss })),
    learningRate: lr ? [0, ...decaySteps, lastStep].filter((s, i, all) => i === 0 || s !== all[i - 1]).map((step) => ({ x: step, y: rateAt(step) })) : [],
    decaySteps,
    valByStep: run.epochs.map((e) => ({ x: e.step, y: e.valAccuracy })),
    testByStep: tests.map((e) => ({ x: e.step, y: e.testAccuracy })),
    valByTime: timed.map((e) => ({ x: e.wallSeconds!, y: e.valAccuracy })),
    testByTime: timedTests.map((e) => ({ x: e.wallSeconds!, y: e.testAccuracy })),
    synthesizers: [...stages.values()].sort((a, b) => a.stage - b.stage),
    probes: probeSeries(run),
    utilisation: runUtilisation(run).stages,
  };
}

/** Per stage with a cosine (not the last), its probe cosines against step. */
function probeSeries(run: RunData): { stage: number; cosine: XY[] }[] {
  const stages = Math.max(0, ...run.probes.map((p) => p.cosine.length));
  return Array.from({ length: stages }, (_, stage) => ({ stage, cosine: run.probes.map((p) => ({ x: p.step, y: p.cosine[stage] ?? null })) })).filter((s) =>
    s.cosine.some((p) => p.y !== null),
  );
}
