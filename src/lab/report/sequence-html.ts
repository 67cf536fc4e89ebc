import type { SequenceRunData } from './read-sequence-run.js';
import { sequenceChartData, type SequenceChartId } from './sequence-chart-data.js';
import { fixed, int, pageHtml, runTable, type RunColumn } from './html.js';
import { sequencePageScript } from './page-script.js';

const charts: { id: SequenceChartId; title: string; about: string }[] = [
  { id: 'seq-loss-step', title: 'Training loss against windows', about: 'Mean over each logged interval of windows (metrics.jsonl): bits per character for char-lm, the window loss (nats) for the copy tasks.' },
  { id: 'seq-loss-time', title: 'Training loss against wall time', about: "Seconds since the run's first metrics line (a resumed run includes the pause)." },
  { id: 'seq-curriculum', title: 'Curriculum length', about: 'Copy and Repeat Copy: the length new episodes have (solid) and the largest length solved (dashed), against windows.' },
  { id: 'seq-synth-loss', title: 'Time synthesizer loss', about: "At the window boundary: M's squared error against its bootstrapped target, interval means; a deep run draws one line per layer." },
  { id: 'seq-synth-cosine', title: 'Time synthesizer cosine', about: 'Cosine between the synthetic gradient at the boundary and the target that came a window later (a deep run: M(s) and its target), interval means.' },
];

const columns: RunColumn<SequenceRunData>[] = [
  { head: 'task', cell: (r) => r.config.task ?? '-' },
  { head: 'mode', cell: (r) => r.summary?.mode ?? r.config.mode ?? '-' },
  { head: 'layers', cell: (r) => String(r.config.layers), numeric: true },
  { head: 'T', cell: (r) => int(r.config.window), numeric: true },
  { head: 'backend', cell: (r) => r.summary?.backend ?? '-' },
  { head: 'windows', cell: (r) => int(r.summary?.steps ?? r.points.at(-1)?.step ?? null), numeric: true },
  { head: 'wall s', cell: (r) => fixed(r.summary?.wallSeconds ?? r.metricsSeconds, 1), numeric: true },
  { head: 'test bpc', cell: (r) => fixed(r.summary?.testBpc ?? null, 3), numeric: true },
  { head: 'valid bpc', cell: (r) => fixed(r.summary?.validBpc ?? null, 3), numeric: true },
  { head: 'largest solved', cell: (r) => int(r.summary?.solved ?? r.points.at(-1)?.solved ?? null), numeric: true },
];

function summaryTable(runs: SequenceRunData[], colors: string[]): string {
  const mark = (r: SequenceRunData) => (!r.summary ? 'unfinished' : r.summary.stopped ? 'stopped' : '');
  return runTable(runs.map((run) => ({ run, value: run, estimated: !run.summary, mark: mark(run) })), columns, colors);
}

/** The report page of one or more sequence runs (synthgrad sequence), Chart.js and all data inlined. */
export function sequenceReportHtml(runs: SequenceRunData[], generated: Date = new Date()): string {
  const data = sequenceChartData(runs);
  return pageHtml({
    runs,
    generated,
    summary: (colors) => summaryTable(runs, colors),
    cards: charts.map((c) => ({ ...c, note: data.notes[c.id] })),
    data,
    script: sequencePageScript,
  });
}
