import { appendFileSync, existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A run's output folder is unusable (exists with other content, or cannot be made). */
export class OutputError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'OutputError';
  }
}

/** Writes a run's files: config.json, metrics.jsonl (one flushed line per record), summary.json. */
export class RunDir {
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
    if (existsSync(this.path)) {
      if (!statSync(this.path).isDirectory()) throw new OutputError(this.path, 'exists and is not a directory; choose another --out');
      if (readdirSync(this.path).length > 0) {
        throw new OutputError(this.path, 'is not empty; choose a new --out directory so no earlier run is overwritten');
      }
    }
    try {
      mkdirSync(this.path, { recursive: true });
    } catch (error) {
      throw new OutputError(this.path, `cannot create the directory: ${(error as Error).message}`);
    }
  }

  /** Writes a JSON file atomically (temporary file, then rename). */
  writeJson(name: string, value: unknown): void {
    const target = join(this.path, name);
    const temporary = `${target}.tmp-${process.pid}`;
    writeFileSync(temporary, JSON.stringify(value, null, 2) + '\n');
    renameSync(temporary, target);
  }

  /** Appends one JSON line to metrics.jsonl, synchronously, so a crash never leaves half a line. */
  metric(record: Record<string, unknown>): void {
    appendFileSync(join(this.path, 'metrics.jsonl'), JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
  }
}

/** runs/<date>-<time>-<preset or mode>-<random> */
export function newRunId(label: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = Math.random().toString(36).slice(2, 6);
  return `${stamp}-${label}-${suffix}`;
}
