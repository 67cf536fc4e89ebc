import { join, relative } from 'node:path';
import { ConfigError } from '../../config/errors.js';
import { loadMnist, type Mnist } from '../../data/index.js';
import { runTable, TableConflictError, type PlannedTable } from './run-table.js';
import { scheduleText, tableFiles } from './table.js';
import { signalExitCode } from '../../run/signal-exit.js';

/** The command line that ran this script, as a user would type it again. */
export function commandLine(argv: string[] = process.argv): string {
  const quote = (a: string) => (/^[\w./,:=@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['node', relative(process.cwd(), argv[1]) || argv[1], ...argv.slice(2)].map(quote).join(' ');
}

/**
 * Loads MNIST once, plans the table, trains its cells in order (or, with train false, none) and
 * writes the table's markdown and JSON; then
 * `after` (e.g. a report). Ctrl-C (or SIGTERM) stops the running cell with a checkpoint and
 * writes the table; running the same command again resumes. Exit code: 0, 1 when a cell failed,
 * 2 when the folder or a config is unusable (nothing trained then), 130 (SIGINT) or 143 (SIGTERM) when stopped.
 */
export async function executeTable(plan: (data: Mnist) => PlannedTable, options: { train: boolean; after?: (table: PlannedTable) => void }): Promise<void> {
  const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  let table: PlannedTable;
  let failed: number;
  let stop: Stop | null = null;
  try {
    const data = loadMnist();
    table = plan(data);
    log(`${table.cells.length} cells into ${table.outDir}; ${[...new Set(table.cells.map((c) => scheduleText(c.schedule)))].join('; ')}`);
    stop = stopOnSignal(log);
    failed = await runTable(table, { data, log, signal: stop.signal, train: options.train });
  } catch (error) {
    if (error instanceof TableConflictError || error instanceof ConfigError || error instanceof RangeError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  options.after?.(table);
  const unfinished = table.cells.filter((c) => !c.outcome || c.outcome.status === 'stopped' || c.outcome.status === 'unfinished').length;
  const rest = unfinished ? `; ${unfinished} cell(s) stopped, unfinished or not run: run the same command${options.train ? ' again' : ' without --table-only'} to continue` : '';
  log(`wrote ${join(table.outDir, tableFiles.markdown)} and ${tableFiles.json}${failed ? `; ${failed} cell(s) failed` : ''}${rest}`);
  process.exitCode = failed ? 1 : unfinished && options.train ? signalExitCode(stop?.by ?? 'SIGINT') : 0;
}

/** The abort signal the running cell watches, and the OS signal that fired it. */
interface Stop {
  signal: AbortSignal;
  by: NodeJS.Signals | null;
}

/**
 * Aborts on the first SIGINT or SIGTERM (the running cell checkpoints and stops), remembering which
 * came; a second one quits at once, with that signal's exit status (as `synthgrad train` does).
 */
function stopOnSignal(log: (line: string) => void): Stop {
  const controller = new AbortController();
  const stop: Stop = { signal: controller.signal, by: null };
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.on(name, () => {
      if (controller.signal.aborted) process.exit(signalExitCode(name));
      log(`${name}: stopping the running cell with a checkpoint (again to quit at once)`);
      stop.by = name;
      controller.abort();
    });
  }
  return stop;
}
