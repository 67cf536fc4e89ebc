import type { SequenceConfig } from '../../sequence/config.js';
import type { SequenceSummary } from '../../sequence/run.js';

/** The DNI paper's recurrent table: tasks as rows, T × method as columns. */
export const tableTasks = ['copy', 'repeat-copy', 'char-lm'] as const;
export const tableModes = ['bptt', 'dni', 'dni+aux'] as const;
export const tableWindows = [2, 3, 4, 5, 8] as const;

export type TableTask = (typeof tableTasks)[number];
export type TableMode = (typeof tableModes)[number];

const taskNames: Record<TableTask, string> = {
  copy: 'Copy (largest length solved)',
  'repeat-copy': 'Repeat Copy (largest length solved)',
  'char-lm': 'char LM (test bits per character)',
};
const modeNames: Record<TableMode, string> = { bptt: 'BPTT', dni: 'DNI', 'dni+aux': 'DNI+Aux' };

export interface TableCell {
  task: TableTask;
  mode: TableMode;
  window: number;
  /** The cell's run directory, relative to the table's folder. */
  dir: string;
  config: SequenceConfig;
}

export interface CellResult {
  cell: TableCell;
  summary: SequenceSummary | null;
}

/** The figure of a finished cell: largest length solved, or test bits per character; null if not finished. */
export function cellFigure(result: CellResult): number | null {
  const s = result.summary;
  if (!s || s.stopped) return null;
  return s.task === 'char-lm' ? (s.bpc?.test ?? null) : s.solved;
}

export interface TableJson {
  command: string;
  budget: Record<TableTask, { timeStepsPerStream: number; describe: string }>;
  cells: { task: TableTask; mode: TableMode; window: number; dir: string; figure: number | null; windows: number | null; wallSeconds: number | null; backend: string | null }[];
  checks: { claim: string; holds: boolean | null; detail: string }[];
}

function figureText(task: TableTask, v: number | null): string {
  if (v === null) return '–';
  return task === 'char-lm' ? v.toFixed(3) : String(v);
}

/**
 * The issue's "done means" that this table can decide, each true, false, or null (cells missing).
 */
export function tableChecks(results: CellResult[]): TableJson['checks'] {
  const at = (task: TableTask, mode: TableMode, window: number) => {
    const r = results.find((c) => c.cell.task === task && c.cell.mode === mode && c.cell.window === window);
    return r ? cellFigure(r) : null;
  };
  const checks: TableJson['checks'] = [];
  const [b3, d3, a3] = [at('copy', 'bptt', 3), at('copy', 'dni', 3), at('copy', 'dni+aux', 3)];
  checks.push({
    claim: 'Copy, T=3: DNI solves at least twice the length BPTT solves',
    holds: b3 === null || d3 === null ? null : d3 >= 2 * b3 && d3 > 0,
    detail: `BPTT ${figureText('copy', b3)}, DNI ${figureText('copy', d3)}`,
  });
  checks.push({
    claim: 'Copy, T=3: DNI+Aux solves at least the length DNI solves',
    holds: a3 === null || d3 === null ? null : a3 >= d3,
    detail: `DNI ${figureText('copy', d3)}, DNI+Aux ${figureText('copy', a3)}`,
  });
  for (const T of [2, 3, 5]) {
    const [b, d] = [at('char-lm', 'bptt', T), at('char-lm', 'dni', T)];
    checks.push({
      claim: `char LM, T=${T}: DNI's test bits per character below BPTT's`,
      holds: b === null || d === null ? null : d < b,
      detail: `BPTT ${figureText('char-lm', b)}, DNI ${figureText('char-lm', d)}`,
    });
  }
  return checks;
}

/** The table's markdown page: the table, the budget, the command that made it, what the paper says, the checks. */
export function tableMarkdown(results: CellResult[], json: TableJson): string {
  const windows = [...new Set(results.map((r) => r.cell.window))].sort((a, b) => a - b);
  const modes = tableModes.filter((m) => results.some((r) => r.cell.mode === m));
  const tasks = tableTasks.filter((t) => results.some((r) => r.cell.task === t));
  const columns = modes.flatMap((m) => windows.map((T) => ({ m, T })));
  const lines = [
    '# Recurrent DNI: truncated BPTT with a synthetic gradient at the window boundary',
    '',
    `| task | ${columns.map((c) => `${modeNames[c.m]} T=${c.T}`).join(' | ')} |`,
    `| --- | ${columns.map(() => '---').join(' | ')} |`,
    ...tasks.map((t) => {
      const cells = columns.map(({ m, T }) => {
        const r = results.find((c) => c.cell.task === t && c.cell.mode === m && c.cell.window === T);
        return r ? figureText(t, cellFigure(r)) : '';
      });
      return `| ${taskNames[t]} | ${cells.join(' | ')} |`;
    }),
    '',
    '– : the cell did not finish. One run per cell, one seed: differences of a length or two are within what another seed gives.',
    '',
    '## Budget',
    '',
    ...tasks.map((t) => `- ${taskNames[t].split(' (')[0]}: ${json.budget[t].describe}`),
    '',
    '## Command',
    '',
    '```sh',
    json.command,
    '```',
    '',
    '## The paper',
    '',
    'Jaderberg et al. 2016 (section 3.1) state that DNI at least doubles the dependency length BPTT learns at the same T.',
    'Their per-cell values are not reproduced here: not confirmed.',
    '',
    '## Checks (the issue\'s "done means")',
    '',
    '| claim | holds | figures |',
    '| --- | --- | --- |',
    ...json.checks.map((c) => `| ${c.claim} | ${c.holds === null ? 'not run' : c.holds ? 'yes' : 'no'} | ${c.detail} |`),
    '',
  ];
  return lines.join('\n');
}
