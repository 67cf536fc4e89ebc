import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeFileAtomic } from '../../atomic-write.js';
import type { Mode } from '../../config/schema.js';
import type { BudgetSchedule } from './budget.js';
import type { CellOutcome } from './cell.js';

/** One cell of a results table: where it sits (row and mode), how it was configured and what it gave. */
export interface TableCell {
  /** The row's value: layers (the FCN table) or the update probability (the sweep). */
  row: number;
  mode: Mode;
  schedule: BudgetSchedule;
  /** Filled in once the cell has run (or was found finished). */
  outcome: CellOutcome | null;
}

/** A results table: rows × modes, each cell a run directory under `outDir`. */
export interface Table {
  title: string;
  /** Heading of the row column, e.g. "layers" or "update probability p". */
  rowHead: string;
  modes: Mode[];
  cells: TableCell[];
  outDir: string;
  /** The command that (re)builds the table. */
  command: string;
  /** Extra column at the right: a cell per row (e.g. the paper's values). */
  extra?: { head: string; cell(row: number): string };
  /** Paragraphs under the table. */
  notes: string[];
  /** More figures per cell, drawn from the runs when the table is written: markdown lines after the table, and their data for the table's JSON. */
  details?(): { markdown: string[]; json: unknown };
}

const modeNames: Record<Mode, string> = { backprop: 'backprop', dni: 'DNI', cdni: 'cDNI', fa: 'FA', dfa: 'DFA', 'bp-lambda': 'BP(λ)', kickback: 'kickback' };

/** Test error in percent, from a summary's test accuracy (null when there is none). */
export function testErrorPercent(outcome: CellOutcome | null): number | null {
  const accuracy = outcome?.summary?.testAccuracy;
  return typeof accuracy === 'number' && Number.isFinite(accuracy) ? (1 - accuracy) * 100 : null;
}

function cellText(table: Table, cell: TableCell | undefined): string {
  if (!cell?.outcome) return cell ? 'not run yet' : '-';
  const link = `${relative(table.outDir, cell.outcome.dir) || '.'}/`;
  const error = testErrorPercent(cell.outcome);
  if (cell.outcome.status === 'failed' || cell.outcome.status === 'unfinished') return `${cell.outcome.status} ([run](${link}))`;
  const steps = `step ${cell.outcome.summary?.steps ?? '?'} of ${cell.schedule.steps}`;
  if (error === null) return cell.outcome.status === 'stopped' ? `stopped at ${steps} ([run](${link}))` : `no test figure ([run](${link}))`;
  const value = `[${error.toFixed(2)}](${link})`;
  return cell.outcome.status === 'stopped' ? `${value} (stopped at ${steps}; error at its last finished epoch)` : value;
}

function stepsText(s: BudgetSchedule): string {
  return `${s.steps} (${s.epochs} epoch${s.epochs === 1 ? '' : 's'})`;
}

/** The table as markdown: rows, then modes as columns; cells are test error (%) linked to their run directory. */
export function tableMarkdown(table: Table, generated: Date = new Date()): string {
  const rows = [...new Set(table.cells.map((c) => c.row))].sort((a, b) => a - b);
  const find = (row: number, mode: Mode) => table.cells.find((c) => c.row === row && c.mode === mode);
  const heads = [table.rowHead, 'steps (epochs)', ...table.modes.map((m) => modeNames[m]), ...(table.extra ? [table.extra.head] : [])];
  const lines = [
    `# ${table.title}`,
    '',
    `Test error (%) on MNIST's 10,000 test images at the end of each run; each cell links to its run directory.`,
    `Built by \`${table.command}\` (${generated.toISOString().slice(0, 19)}Z).`,
    '',
    `| ${heads.join(' | ')} |`,
    `| ${heads.map(() => '---').join(' | ')} |`,
  ];
  for (const row of rows) {
    const cells = table.modes.map((m) => find(row, m));
    const schedule = cells.find((c) => c)?.schedule;
    const values = [String(row), schedule ? stepsText(schedule) : '-', ...cells.map((c) => cellText(table, c)), ...(table.extra ? [table.extra.cell(row)] : [])];
    lines.push(`| ${values.join(' | ')} |`);
  }
  const schedules = [...new Map(table.cells.map((c) => [JSON.stringify(c.schedule), c.schedule])).values()];
  lines.push('', 'Schedule: ' + schedules.map(scheduleText).join('; ') + '.');
  const special = table.cells.filter((c) => c.outcome && ['failed', 'stopped', 'unfinished'].includes(c.outcome.status));
  if (special.length) {
    lines.push('', ...special.map((c) => `- ${table.rowHead} ${c.row}, ${modeNames[c.mode]}: ${c.outcome!.status}${c.outcome!.error ? `: ${c.outcome!.error}` : ''}`));
  }
  if (table.details) lines.push('', ...table.details().markdown);
  for (const note of table.notes) lines.push('', note);
  return lines.join('\n') + '\n';
}

export function scheduleText(s: BudgetSchedule): string {
  const decay = s.decaySteps.length ? `, ÷${Math.round(1 / s.decayFactor)} at steps ${s.decaySteps.join(' and ')}` : '';
  return `${s.steps} steps of batch ${s.batchSize} (${s.epochs} epoch${s.epochs === 1 ? '' : 's'}), Adam lr ${s.learningRate}${decay}`;
}

/** The table as data (its JSON file). */
export function tableJson(table: Table, generated: Date = new Date()): unknown {
  return {
    title: table.title,
    generated: generated.toISOString(),
    command: table.command,
    rowHead: table.rowHead,
    modes: table.modes,
    cells: table.cells.map((c) => {
      const s = c.outcome?.summary;
      return {
        row: c.row,
        mode: c.mode,
        schedule: c.schedule,
        dir: c.outcome ? relative(table.outDir, c.outcome.dir) : null,
        status: c.outcome?.status ?? 'not run',
        testErrorPercent: testErrorPercent(c.outcome),
        testAccuracy: s?.testAccuracy ?? null,
        valAccuracy: s?.valAccuracy ?? null,
        steps: s?.steps ?? null,
        wallSeconds: s?.wallSeconds ?? null,
        secondsThisInvocation: c.outcome?.seconds ?? null,
        ...(c.outcome?.error ? { error: c.outcome.error } : {}),
      };
    }),
    notes: table.notes,
    ...(table.details && { details: table.details().json }),
  };
}

/** The files a table writes into its folder: its markdown page and its data. */
const TABLE_NAME = 'table';
export const tableFiles = { markdown: `${TABLE_NAME}.md`, json: `${TABLE_NAME}.json` } as const;

/** Writes the table's markdown page and data (tableFiles) into its folder, each atomically. */
export function writeTable(table: Table, generated: Date = new Date()): { markdown: string; json: string } {
  mkdirSync(table.outDir, { recursive: true });
  const markdown = join(table.outDir, tableFiles.markdown);
  const json = join(table.outDir, tableFiles.json);
  writeFileAtomic(markdown, tableMarkdown(table, generated));
  writeFileAtomic(json, JSON.stringify(tableJson(table, generated), null, 2) + '\n');
  return { markdown, json };
}
