import { join, resolve } from 'node:path';
import { mergeConfig, validateConfig } from '../../config/resolve.js';
import type { ConfigInput, Mode, Schedule } from '../../config/schema.js';
import { budgetSchedule, withBudget } from './budget.js';
import type { PlannedCell } from './run-table.js';

/** What a table's command line changes in every cell's config. */
export interface CellOverrides {
  /** Training steps (default: the config's own schedule, 20 epochs for the presets). */
  budget?: number;
  seed?: number | string;
  schedule?: Schedule;
}

/** One cell: `base` with the overrides applied and validated, to be trained in `outDir/name`. */
export function planCell(base: ConfigInput, row: number, mode: Mode, outDir: string, name: string, overrides: CellOverrides, trainCount: number): PlannedCell {
  const budgeted = overrides.budget === undefined ? base : withBudget(base, overrides.budget, trainCount);
  // merged as train's flags are (an undefined override leaves the config's own value)
  const input = mergeConfig(budgeted, { train: { seed: overrides.seed, schedule: overrides.schedule } }) as ConfigInput;
  const dir = join(resolve(outDir), name);
  const config = validateConfig({ ...input, out: dir }, `${name} config`);
  return { row, mode, config, dir, schedule: budgetSchedule(input, trainCount), outcome: null };
}

/** One line on how the table's runs were run: schedule, window, seed, backend (from the first cell). */
export function runsNote(cells: PlannedCell[]): string {
  const first = cells[0]?.config;
  if (!first) return '';
  const { schedule, window, seed } = first.train;
  const how = schedule === 'lockstep' ? 'lockstep (one batch in flight)' : `${schedule} (window ${window})`;
  return `The script trains the cells one after the other, stages in worker threads, schedule ${how}, seed ${seed}, backend ${first.backend}; test error after the last step.`;
}
