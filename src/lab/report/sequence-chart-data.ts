import type { SequenceRunData } from './read-sequence-run.js';
import { runColor, type XY } from './chart-data.js';
import { runLabels } from './differences.js';

/** What the sequence page script draws, for one run. */
export interface SequenceChartRun {
  label: string;
  color: string;
  /** Training bits per character (char-lm) or window loss (copy tasks) against step and against wall seconds. */
  lossByStep: XY[];
  lossByTime: XY[];
  /** Copy tasks: the curriculum's current length and the largest length solved, against step. */
  length: XY[];
  solved: XY[];
  /** The time synthesizer's loss and cosine against step: one entry per layer (one for a one-layer run). */
  synthesizers: { layer: number; loss: XY[]; cosine: XY[] }[];
}

export interface SequenceChartData {
  runs: SequenceChartRun[];
  /** The y axis of the loss charts: bits per character when every run is char-lm. */
  lossAxis: string;
  notes: Record<SequenceChartId, string>;
}

export const sequenceChartIds = ['seq-loss-step', 'seq-loss-time', 'seq-curriculum', 'seq-synth-loss', 'seq-synth-cosine'] as const;
export type SequenceChartId = (typeof sequenceChartIds)[number];

export function sequenceChartData(runs: SequenceRunData[]): SequenceChartData {
  const labels = runLabels(runs);
  const chartRuns = runs.map((run, i) => chartRun(run, i, labels[i]));
  const lacking = (has: (r: SequenceChartRun) => boolean, what: string) => {
    const names = chartRuns.filter((r) => !has(r)).map((r) => r.label);
    return names.length ? `${what}: ${names.join('; ')}` : '';
  };
  const allText = runs.every((r) => r.config.task === 'char-lm');
  return {
    runs: chartRuns,
    lossAxis: allText ? 'training bits per character' : 'training loss (char-lm: bits per character; copy: nats per window)',
    notes: {
      'seq-loss-step': lacking((r) => r.lossByStep.length > 0, 'No metrics line yet'),
      'seq-loss-time': lacking((r) => r.lossByTime.length > 0, 'No metrics line with a time yet'),
      'seq-curriculum': lacking((r) => r.length.length > 0, 'No curriculum (char-lm has none), or no line yet'),
      'seq-synth-loss': lacking((r) => r.synthesizers.length > 0, 'No time synthesizer (bptt), or no line yet'),
      'seq-synth-cosine': lacking((r) => r.synthesizers.length > 0, 'No time synthesizer (bptt), or no line yet'),
    },
  };
}

function chartRun(run: SequenceRunData, index: number, label: string): SequenceChartRun {
  const figure = (p: SequenceRunData['points'][number]) => p.trainBpc ?? p.loss;
  const curriculum = run.points.filter((p) => p.length !== null);
  const layers = run.points.reduce((n, p) => Math.max(n, p.layerSynthesizerLoss?.length ?? 0), 0);
  const synthesizers =
    layers > 0
      ? Array.from({ length: layers }, (_, layer) => ({
          layer,
          loss: run.points.map((p) => ({ x: p.step, y: p.layerSynthesizerLoss?.[layer] ?? null })),
          cosine: run.points.map((p) => ({ x: p.step, y: p.layerSynthesizerCosine?.[layer] ?? null })),
        }))
      : run.points.some((p) => p.synthesizerLoss !== null)
        ? [{ layer: 0, loss: run.points.map((p) => ({ x: p.step, y: p.synthesizerLoss })), cosine: run.points.map((p) => ({ x: p.step, y: p.synthesizerCosine })) }]
        : [];
  return {
    label,
    color: runColor(index),
    lossByStep: run.points.map((p) => ({ x: p.step, y: figure(p) })),
    lossByTime: run.points.filter((p) => p.wallSeconds !== null).map((p) => ({ x: p.wallSeconds!, y: figure(p) })),
    length: curriculum.map((p) => ({ x: p.step, y: p.length })),
    solved: curriculum.map((p) => ({ x: p.step, y: p.solved })),
    synthesizers: synthesizers.filter((s) => s.loss.some((p) => p.y !== null)),
  };
}
