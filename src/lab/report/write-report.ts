import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ReportError } from './errors.js';
import { readRun } from './read-run.js';
import { reportHtml } from './html.js';
import { isSequenceRun, readSequenceRun } from './read-sequence-run.js';
import { sequenceReportHtml } from './sequence-html.js';
import { writeFileAtomic } from '../../atomic-write.js';

export interface WriteReportOptions {
  /** Overwrite an existing `outFile` (its own default path, <first run dir>/report.html, is always rewritten). */
  force?: boolean;
}

/**
 * Reads the run directories (all feed-forward runs, or all sequence runs: each kind has its own
 * charts) and writes one self-contained report.html overlaying them (default
 * `<first run dir>/report.html`), atomically: a temporary file, then a rename. Returns its path.
 * An existing file other than that default is not overwritten unless `force` (it may be a run's
 * summary.json, or another report); a failed write is a WriteError naming the file.
 */
export function writeReport(runDirs: string[], outFile?: string, options: WriteReportOptions = {}): string {
  if (runDirs.length === 0) throw new ReportError(outFile ?? '.', 'no run directory given; expected at least one');
  const sequence = runDirs.map((dir) => isSequenceRun(dir));
  const mixed = sequence.findIndex((s) => s !== sequence[0]);
  if (mixed > 0) {
    const [one, other] = sequence[0] ? [runDirs[0], runDirs[mixed]] : [runDirs[mixed], runDirs[0]];
    throw new ReportError(other, `is a feed-forward run and ${one} a sequence run: draw them in separate reports`);
  }
  const html = sequence[0] ? sequenceReportHtml(runDirs.map((dir) => readSequenceRun(dir))) : reportHtml(runDirs.map((dir) => readRun(dir)));
  const own = resolve(join(runDirs[0], 'report.html'));
  const target = resolve(outFile ?? own);
  if (target !== own && existsSync(target) && !options.force) {
    throw new ReportError(target, 'exists and is not the report of the first run (its report.html); choose another --out, or add --force to overwrite it');
  }
  writeFileAtomic(target, html);
  return target;
}
