import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OutputError } from '../metrics/run-dir.js';

/**
 * Refuses to resume a run that finished (its summary.json says neither stopped nor failed): there
 * is nothing left to train, and a resume would overwrite its summary.json, trace.json and report.
 */
export function refuseFinished(runDir: string): void {
  const file = join(runDir, 'summary.json');
  if (!existsSync(file)) return;
  let summary: { stopped?: unknown; error?: unknown; steps?: unknown };
  try {
    summary = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return; // unreadable: the checkpoint decides
  }
  if (summary?.stopped === false && summary.error === undefined) {
    throw new OutputError(runDir, `finished at step ${summary.steps} (summary.json): there is nothing to resume, and resuming would overwrite its results; start a new run with another --out`);
  }
}
