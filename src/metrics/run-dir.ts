import { accessSync, appendFileSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { WriteError } from '../write-error.js';
import { writeFileAtomic } from '../atomic-write.js';
import { dirname, join, resolve } from 'node:path';
import { PathError } from '../path-error.js';

/** A run's output folder is unusable (exists with other content, or cannot be made). */
export class OutputError extends PathError {}

/** Writes a run's files: config.json, metrics.jsonl (one flushed line per record), summary.json. */
export class RunDir {
  readonly path: string;
  /** Whether this process made the folder (else it was there, empty, or it is an earlier run's). */
  private created = false;
  /** The first write that failed where throwing would not reach the run (metrics lines from callbacks). */
  failure: WriteError | null = null;

  /** An earlier run's directory, to continue it (--resume). */
  static existing(path: string): RunDir {
    const dir = resolve(path);
    if (!existsSync(join(dir, 'config.json'))) throw new OutputError(dir, 'is not a synthgrad run directory (no config.json)');
    return new RunDir(dir, true);
  }

  constructor(path: string, existing = false) {
    this.path = resolve(path);
    if (existing) return;
    if (existsSync(this.path)) {
      if (!statSync(this.path).isDirectory()) throw new OutputError(this.path, 'exists and is not a directory; choose another --out');
      if (readdirSync(this.path).length > 0) {
        throw new OutputError(this.path, 'is not empty; choose a new --out directory so no earlier run is overwritten');
      }
    }
    this.created = !existsSync(this.path);
    try {
      makeDirectories(this.path);
      accessSync(this.path, constants.W_OK); // a read-only file system refuses root too
    } catch (error) {
      throw new OutputError(this.path, `cannot create the directory or write in it: ${(error as Error).message}`);
    }
  }

  /** Writes a JSON file atomically (temporary file, then rename). */
  writeJson(name: string, value: unknown, compact = false): void {
    writeFileAtomic(join(this.path, name), JSON.stringify(value, null, compact ? undefined : 2) + '\n');
  }

  /** Keeps only the metrics of steps up to `step` (a resumed run writes the later ones again). */
  truncateMetrics(step: number): void {
    const file = join(this.path, 'metrics.jsonl');
    if (!existsSync(file)) return;
    const kept = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => {
        if (!line.trim()) return false;
        try {
          const record = JSON.parse(line) as { step?: number };
          return (record.step ?? 0) <= step;
        } catch {
          return false; // a line torn by a crash
        }
      });
    writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
  }

  /**
   * Appends one JSON line to metrics.jsonl, synchronously, so a crash never leaves half a line. A
   * failure does not throw (this is called from the pipeline's callbacks): it is kept in `failure`,
   * which the run checks, and later lines are not tried.
   */
  metric(record: Record<string, unknown>): void {
    if (this.failure) return;
    const file = join(this.path, 'metrics.jsonl');
    try {
      appendFileSync(file, JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
    } catch (error) {
      this.failure = new WriteError(file, error);
    }
  }

  /**
   * Removes what a run that failed to start wrote, so the same --out can be used again: the folder
   * when this process made it, else its contents (it was empty).
   */
  discard(): void {
    if (this.created) rmSync(this.path, { recursive: true, force: true });
    else for (const entry of readdirSync(this.path)) rmSync(join(this.path, entry), { recursive: true, force: true });
  }
}

/**
 * mkdir -p, one level at a time: node's recursive mkdirSync never returns for a path under a
 * file system that refuses new entries with ENOENT (such as /proc).
 */
function makeDirectories(path: string): void {
  if (existsSync(path)) return;
  const parent = dirname(path);
  if (parent !== path) makeDirectories(parent);
  mkdirSync(path);
}

/** runs/<date>-<time>-<preset or mode>-<random> */
export function newRunId(label: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = Math.random().toString(36).slice(2, 6);
  return `${stamp}-${label}-${suffix}`;
}
