import type { Config } from '../../config/schema.js';
import type { Mnist } from '../../data/index.js';
import { CellConflictError, cellAsFound, inspectCell, runCell, type CellState } from './cell.js';
import { testErrorPercent, writeTable, type Table, type TableCell } from './table.js';

/** A cell with the validated config it trains and its run directory. */
export interface PlannedCell extends TableCell {
  config: Config;
  dir: string;
}

export interface PlannedTable extends Table {
  cells: PlannedCell[];
}

/** Several cells' folders are unusable; nothing was trained. */
export class TableConflictError extends Error {
  constructor(readonly conflicts: CellConflictError[]) {
    super(conflicts.map((c) => c.message).join('\n'));
    this.name = 'TableConflictError';
  }
}

/**
 * Runs a table's cells one after the other (each run has all the cores), rewriting the table's
 * markdown and JSON after each. Every cell's folder is checked first: finished runs of the same config
 * are reused, stopped ones resumed from their checkpoint, and anything else refuses the whole
 * table (TableConflictError) before a single step is trained. When `signal` aborts, the running cell
 * stops with a checkpoint (a later run resumes it) and no further cell starts. Returns the number
 * of failed cells.
 */
export interface RunTableOptions {
  data: Mnist;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** false: train nothing, only write the table from what the folders hold (--table-only). */
  train?: boolean;
}

export async function runTable(table: PlannedTable, options: RunTableOptions): Promise<number> {
  const log = options.log ?? (() => {});
  const conflicts: CellConflictError[] = [];
  const states = table.cells.map((cell): CellState | null => {
    try {
      return inspectCell(cell.dir, cell.config);
    } catch (error) {
      if (error instanceof CellConflictError) conflicts.push(error);
      else throw error;
      return null;
    }
  });
  if (conflicts.length) throw new TableConflictError(conflicts);
  table.cells.forEach((cell, i) => {
    if (states[i]!.kind === 'finished' || options.train === false) cell.outcome = cellAsFound(cell.dir, states[i]!);
  });
  writeTable(table);
  if (options.train === false) return table.cells.filter((c) => c.outcome?.status === 'failed').length;
  let failed = 0;
  for (const [i, cell] of table.cells.entries()) {
    const state = states[i]!;
    const name = `${table.rowHead} ${cell.row}, ${cell.mode}`;
    if (options.signal?.aborted) break;
    if (state.kind === 'finished') {
      log(`${name}: finished earlier, reused (${cell.dir})`);
      continue;
    }
    log(`${name}: ${state.kind === 'new' ? 'training' : 'resuming'} ${cell.schedule.steps} steps in ${cell.dir}`);
    cell.outcome = await runCell(cell.dir, cell.config, state, { data: options.data, signal: options.signal });
    const error = testErrorPercent(cell.outcome);
    if (cell.outcome.status === 'failed') failed += 1;
    log(
      `${name}: ${cell.outcome.status}` +
        (error === null ? '' : `, test error ${error.toFixed(2)}%`) +
        `, ${cell.outcome.seconds.toFixed(1)} s` +
        (cell.outcome.error ? `: ${cell.outcome.error}` : ''),
    );
    writeTable(table);
  }
  return failed;
}
