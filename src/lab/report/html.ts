import type { RunData } from './read-run.js';
import { chartData, type ChartId } from './chart-data.js';
import { runFigures, type RunFigures } from './figures.js';
import { differingFields, flattenConfig, type LabelledRun } from './differences.js';
import { chartJsSource, escapeHtml, escapeScript, jsonForScript } from './inline.js';
import { pageScript } from './page-script.js';

const charts: { id: ChartId; title: string; about: string }[] = [
  { id: 'loss', title: 'Training loss', about: 'Mean training loss over each logged interval of steps (metrics.jsonl train lines).' },
  { id: 'eval-loss', title: 'Validation and test loss', about: 'After each epoch (test also at the train.evalEvery evaluations): validation solid (circles), test dashed (triangles).' },
  { id: 'train-accuracy', title: 'Training accuracy', about: 'Accuracy on the training batches over each logged interval, as they were trained (training mode: BatchNorm on batch statistics).' },
  { id: 'accuracy-step', title: 'Accuracy against steps', about: 'After each epoch: validation solid (circles), test dashed (triangles). Click a legend entry to hide or show it.' },
  { id: 'accuracy-time', title: 'Accuracy against wall time', about: "Seconds since the run's first metrics line; validation solid, test dashed." },
  { id: 'learning-rate', title: 'Learning rate', about: "The stages' Adam learning rate (optimizer.learningRate times decayFactor at each of optimizer.decaySteps); the decay steps are marked." },
  { id: 'synth-loss', title: 'Synthesizer loss per stage', about: 'Mean over each epoch, one line per stage with a synthesizer (colour = run, line and point style = stage).' },
  { id: 'synth-cosine', title: 'Synthesizer cosine similarity per stage', about: 'Cosine between the applied synthetic gradient and the target that later arrived; epoch means.' },
  { id: 'true-cosine', title: 'Cosine with the true gradient per stage', about: 'The gradient probes (train.probeEvery): the cosine of the gradient each stage would use (its source: backprop, synthesizer, FA, DFA, BP(λ)) with the true gradient, on a validation batch, against step (docs/gradient-sources.md).' },
  { id: 'utilisation', title: 'Stage utilisation', about: 'Work / (busy + wait) per stage over the whole run, work being busy time less the time the stage was ready but waited for a core (runQueueSeconds, where measured); from summary.json, else the last epoch line.' },
];

/** Drawn only when the runs differ in train.updateProbability (a sweep). */
const errorVsPChart = {
  id: 'error-vs-p',
  title: 'Test error against update probability',
  about: 'Each stage updates on a batch with probability p. One line per mode; the final test error of each run (summary.json, else the last epoch line).',
} as const;

/** Builds the self-contained report page (Chart.js and all data inlined) for one or more runs. */
export function reportHtml(runs: RunData[], generated: Date = new Date()): string {
  const data = chartData(runs);
  const shown = data.errorVsP ? [errorVsPChart, ...charts] : charts;
  return pageHtml({
    runs,
    generated,
    summary: (colors) => summaryTable(runs, colors),
    cards: shown.map((c) => ({ ...c, note: c.id !== 'error-vs-p' ? data.notes[c.id] : '' })),
    data,
    script: pageScript,
  });
}

/** One chart's card: its canvas id, title, what it shows, and a note (which runs have nothing there). */
export interface ChartCard {
  id: string;
  title: string;
  about: string;
  note: string;
}

/**
 * The page around a report's charts: title, the summary table (drawn with the runs' colours) and
 * the runs' notes, the config table, one card per chart, the data (its runs' labels and colours)
 * and the script that draws it.
 */
export function pageHtml(page: {
  runs: (LabelledRun & { dir: string; notes: string[] })[];
  generated: Date;
  summary: (colors: string[]) => string;
  cards: ChartCard[];
  data: { runs: { label: string; color: string }[] };
  script: string;
}): string {
  const { runs, generated } = page;
  const colors = page.data.runs.map((r) => r.color);
  const title = runs.length === 1 ? `synthgrad report: ${runs[0].id}` : `synthgrad report: ${runs.length} runs`;
  const cards = page.cards
    .map(
      (c) => `<section class="card">
  <h2>${escapeHtml(c.title)}</h2>
  <p class="about">${escapeHtml(c.about)}</p>
  <div class="chart"><canvas id="${c.id}" role="img" aria-label="${escapeHtml(c.title)}"></canvas></div>
  ${c.note ? `<p class="note">${escapeHtml(c.note)}</p>` : ''}
</section>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
</head>
<body>
<header>
  <h1>${escapeHtml(title)}</h1>
  <p class="sub">${runs.length} run${runs.length === 1 ? '' : 's'}, generated ${escapeHtml(generated.toISOString().replace('T', ' ').slice(0, 19))} UTC</p>
</header>
<main>
<section class="card wide">
  <h2>Summary</h2>
  ${page.summary(colors)}
  ${runNotes(runs, page.data.runs.map((r) => r.label))}
</section>
<section class="card wide">
  <h2>Config</h2>
  <p class="about">${runs.length > 1 ? 'Every field of each run&#39;s config.json (where it is stored and reads data from left out); fields that differ between the runs are highlighted, and name the runs in the charts.' : 'Every field of the run&#39;s config.json (where it is stored and reads data from left out).'}</p>
  ${configTable(runs, colors)}
</section>
<div class="grid">
${cards}
</div>
</main>
<script type="application/json" id="report-data">${jsonForScript(page.data)}</script>
<script>${escapeScript(chartJsSource())}</script>
<script>${escapeScript(page.script)}</script>
</body>
</html>
`;
}

const columns: RunColumn<RunFigures>[] = [
  { head: 'preset', cell: (f) => f.preset ?? '-' },
  { head: 'mode', cell: (f) => f.mode ?? '-' },
  { head: 'schedule', cell: (f) => (f.schedule ? (f.schedule === 'async' && f.window !== null ? `async (window ${f.window})` : f.schedule) : '-') },
  { head: 'backend', cell: (f) => f.backend ?? '-' },
  { head: 'stages', cell: (f) => int(f.stages), numeric: true },
  { head: 'epochs', cell: (f) => int(f.epochs), numeric: true },
  { head: 'steps', cell: (f) => int(f.steps), numeric: true },
  { head: 'wall s', cell: (f) => fixed(f.wallSeconds, 1), numeric: true },
  { head: 'samples/s', cell: (f) => int(f.samplesPerSecond), numeric: true },
  { head: 'val acc', cell: (f) => fixed(f.valAccuracy, 4), numeric: true },
  { head: 'test acc', cell: (f) => fixed(f.testAccuracy, 4), numeric: true },
  { head: 'test loss', cell: (f) => fixed(f.testLoss, 4), numeric: true },
  { head: 'steps to 97%', cell: (f) => (f.reached97 ? int(f.reached97.step) : '-'), numeric: true },
  { head: 's to 97%', cell: (f) => (f.reached97 ? fixed(f.reached97.elapsedSeconds, 0) : '-'), numeric: true },
  { head: 'cos with true gradient', cell: (f) => (f.probeCosines.some((c) => c !== null) ? f.probeCosines.filter((c) => c !== null).map((c) => fixed(c, 3)).join(' / ') : '-') },
];

function summaryTable(runs: RunData[], colors: string[]): string {
  return runTable(
    runs.map((run) => {
      const f = runFigures(run);
      return { run, value: f, estimated: !f.fromSummary, mark: f.fromSummary ? '' : 'unfinished' };
    }),
    columns,
    colors,
  );
}

/** A column of a summary table: its head and its cell for one run's figures. */
export interface RunColumn<T> {
  head: string;
  cell: (value: T) => string;
  numeric?: boolean;
}

/**
 * One row per run (its colour, id and a mark such as 'unfinished'), one column per figure;
 * `estimated` rows (no summary.json: figures from metrics.jsonl) are shown in grey.
 */
export function runTable<T>(rows: { run: { id: string; dir: string }; value: T; estimated: boolean; mark: string }[], columns: RunColumn<T>[], colors: string[]): string {
  const head = `<tr><th>run</th>${columns.map((c) => `<th${c.numeric ? ' class="num"' : ''}>${c.head}</th>`).join('')}</tr>`;
  const body = rows.map(({ run, value, estimated, mark }, i) => {
    const tag = mark ? ` <span class="partial" title="${estimated ? 'no summary.json: figures from metrics.jsonl' : mark}">${escapeHtml(mark)}</span>` : '';
    const cells = columns.map((c) => `<td${c.numeric ? ' class="num"' : ''}>${escapeHtml(c.cell(value))}</td>`).join('');
    return `<tr${estimated ? ' class="estimated"' : ''}><td><span class="swatch" style="background:${colors[i]}"></span><span class="run" title="${escapeHtml(run.dir)}">${escapeHtml(run.id)}</span>${tag}</td>${cells}</tr>`;
  });
  return `<div class="table-wrap"><table>\n<thead>${head}</thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table></div>`;
}

/** One row per config field, one column per run; rows that differ between the runs are marked. */
function configTable(runs: LabelledRun[], colors: string[]): string {
  const flat = runs.map((run) => flattenConfig(run.config.settings));
  const differs = new Set(differingFields(runs));
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))];
  const head = `<tr><th>field</th>${runs.map((run, i) => `<th><span class="swatch" style="background:${colors[i]}"></span><span class="run">${escapeHtml(run.id)}</span></th>`).join('')}</tr>`;
  const rows = paths.map((path) => `<tr${differs.has(path) ? ' class="differs"' : ''}><td><code>${escapeHtml(path)}</code></td>${flat.map((f) => `<td><code>${escapeHtml(f.get(path) ?? '-')}</code></td>`).join('')}</tr>`);
  return `<div class="table-wrap config"><table>\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`;
}

function runNotes(runs: (LabelledRun & { dir: string; notes: string[] })[], labels: string[]): string {
  const items = runs.flatMap((run, i) => [`<li><b>${escapeHtml(labels[i])}</b>: <code>${escapeHtml(run.dir)}</code></li>`, ...run.notes.map((n) => `<li class="warn">${escapeHtml(run.id)}: ${escapeHtml(n)}</li>`)]);
  return `<ul class="runs">${items.join('')}</ul>`;
}

export const int = (x: number | null) => (x === null ? '-' : Math.round(x).toLocaleString('en-US'));
export const fixed = (x: number | null, digits: number) => (x === null ? '-' : x.toFixed(digits));

export const css = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: #111827; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #1f2937; color: #f9fafb; padding: 18px 28px; }
header h1 { margin: 0; font-size: 20px; font-weight: 600; }
header .sub { margin: 4px 0 0; color: #9ca3af; font-size: 13px; }
main { padding: 20px 28px 40px; max-width: 1500px; margin: 0 auto; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 14px 18px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.04); min-width: 0; }
.card h2 { margin: 0 0 2px; font-size: 15px; font-weight: 600; }
.card .about { margin: 0 0 10px; color: #6b7280; font-size: 12.5px; }
.card .note { margin: 8px 0 0; color: #92400e; background: #fffbeb; border-radius: 4px; padding: 4px 8px; font-size: 12.5px; }
.wide { margin-bottom: 20px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 20px; }
.chart { position: relative; height: 340px; }
.table-wrap { overflow-x: auto; margin-top: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e5e7eb; text-align: left; white-space: nowrap; }
th { background: #f9fafb; font-weight: 600; color: #374151; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #f9fafb; }
tr.estimated td { color: #6b7280; font-style: italic; }
tr.differs td { background: #fef9c3; }
.config { max-height: 420px; overflow-y: auto; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 8px; vertical-align: -1px; }
.run { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; font-style: normal; }
.partial { margin-left: 6px; font-size: 11px; font-style: normal; color: #92400e; background: #fef3c7; border-radius: 3px; padding: 1px 5px; }
ul.runs { margin: 12px 0 0; padding-left: 18px; color: #4b5563; font-size: 12.5px; }
ul.runs li.warn { color: #92400e; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
`;
