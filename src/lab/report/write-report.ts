import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ReportError } from './errors.js';
import { readRun } from './read-run.js';
import { reportHtml } from './html.js';

/**
 * Reads the run directories and writes one self-contained report.html overlaying them (default
 * `<first run dir>/report.html`), atomically: a temporary file, then a rename. Returns its path.
 */
export function writeReport(runDirs: string[], outFile?: string): string {
  if (runDirs.length === 0) throw new ReportError(outFile ?? '.', 'no run directory given; expected at least one');
  const runs = runDirs.map((dir) => readRun(dir));
  const target = resolve(outFile ?? join(runs[0].dir, 'report.html'));
  const html = reportHtml(runs);
  const temporary = `${target}.tmp-${process.pid}`;
  try {
    writeFileSync(temporary, html);
    renameSync(temporary, target);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new ReportError(target, `cannot write the report (${(error as Error).message}); expected a writable file path in an existing directory`);
  }
  return target;
}
