import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import type { Config } from '../../config/schema.js';
import { checkpointDir, trainingConfig } from '../../checkpoint/manifest.js';
import type { Summary } from '../../run/summary.js';
import { readRunConfig } from '../../run/run-config.js';
import { resume, RunError, train, type TrainOptions } from '../../train.js';
import { PathError } from '../../path-error.js';

/**
 * One cell of a table (a row and a mode): a run directory that is either new, already finished
 * with the same config (reused, not trained again), or stopped with a checkpoint (resumed).
 */
export type CellState = { kind: 'new' } | { kind: 'finished'; summary: Summary } | { kind: 'resumable'; summary: Summary | null };

/**
 * stopped: interrupted (Ctrl-C) with a checkpoint; running the table again resumes it.
 * unfinished: a run without a summary yet (still running, or killed), seen with --table-only.
 */
export type CellStatus = 'trained' | 'reused' | 'resumed' | 'stopped' | 'unfinished' | 'failed';

export interface CellOutcome {
  dir: string;
  status: CellStatus;
  /** null when the run failed before it wrote a summary. */
  summary: Summary | null;
  error?: string;
  /** Wall seconds this invocation spent on the cell (0 when reused). */
  seconds: number;
}

/** A cell's run directory holds something this config must not be mixed with. */
export class CellConflictError extends PathError {
  constructor(dir: string, problem: string) {
    super(dir, `${problem}; remove it or choose another --out`);
  }
}

/** Dotted paths where two JSON values differ (`train.epochs`, `model.layers`), at most `limit`. */
export function differingFields(a: unknown, b: unknown, path = '', limit = 6): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingFields(a[k], b[k], path ? `${path}.${k}` : k, limit)).slice(0, limit);
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path || '(the whole config)'];
}

/** The parts of a config that decide what a run computes (not its name or where it writes). */
function trainingPart(config: Config): Omit<Config, 'preset' | 'out' | 'data' | 'placement'> {
  const { preset: _preset, ...rest } = trainingConfig(config);
  return rest;
}

/**
 * What `dir` holds for a cell that should be trained with `expected`. Refuses (CellConflictError)
 * a folder with other files, a run of another config, or an unfinished run without a checkpoint.
 */
export function inspectCell(dir: string, expected: Config): CellState {
  if (!existsSync(dir) || readdirSync(dir).length === 0) return { kind: 'new' };
  if (!existsSync(join(dir, 'config.json'))) throw new CellConflictError(dir, 'is not empty and holds no synthgrad run (no config.json)');
  const recorded = readRunConfig(dir).config;
  const differing = differingFields(trainingPart(recorded), trainingPart(expected));
  if (differing.length) throw new CellConflictError(dir, `holds a run of another config (differs in ${differing.join(', ')})`);
  const summaryPath = join(dir, 'summary.json');
  const summary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as Summary) : null;
  if (summary && !summary.stopped && !summary.error) return { kind: 'finished', summary };
  if (existsSync(join(checkpointDir(dir), 'manifest.json'))) return { kind: 'resumable', summary };
  throw new CellConflictError(dir, `holds an unfinished run without a checkpoint${summary?.error ? ` (it failed: ${summary.error})` : ''}`);
}

/** What a cell holds without training it (--table-only): its finished, stopped or unfinished run, or nothing. */
export function cellAsFound(dir: string, state: CellState): CellOutcome | null {
  const path = resolvePath(dir);
  if (state.kind === 'new') return null;
  if (state.kind === 'finished') return { dir: path, status: 'reused', summary: state.summary, seconds: 0 };
  if (state.summary?.stopped) return { dir: path, status: 'stopped', summary: state.summary, error: `stopped at step ${state.summary.steps}; run the table again to resume it`, seconds: 0 };
  return { dir: path, status: 'unfinished', summary: null, error: 'no summary.json yet (still running, or killed): run the table again to resume it', seconds: 0 };
}

/** Trains, resumes or reuses one cell; a failed run is reported in the outcome, not thrown. */
export async function runCell(dir: string, expected: Config, state: CellState, options: TrainOptions = {}): Promise<CellOutcome> {
  const path = resolvePath(dir);
  if (state.kind === 'finished') return { dir: path, status: 'reused', summary: state.summary, seconds: 0 };
  const start = Date.now();
  const seconds = () => (Date.now() - start) / 1000;
  try {
    const summary = state.kind === 'new' ? await train({ ...expected, out: path }, options) : await resume(path, options);
    if (summary.stopped) return { dir: path, status: 'stopped', summary, error: `stopped at step ${summary.steps}; run the table again to resume it`, seconds: seconds() };
    return { dir: path, status: state.kind === 'new' ? 'trained' : 'resumed', summary, seconds: seconds() };
  } catch (error) {
    const summary = error instanceof RunError ? error.summary : null;
    return { dir: path, status: 'failed', summary, error: (error as Error).message, seconds: seconds() };
  }
}
