import { appendFileSync, closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { TraceEvent } from './trace.js';
import { WriteError, writing } from '../write-error.js';

/**
 * trace.json, written as the spans arrive: each batch is appended to `trace.json.partial` (one
 * event per line), so a long run holds no spans in memory; `finish` writes trace.json from it in
 * one piece (a reader sees no trace.json or a whole one) and removes the partial file.
 */
export class TraceFile {
  private readonly partial: string;
  private finished = false;
  /** The first append that failed (appends come from callbacks, so they do not throw); the run checks it. */
  failure: WriteError | null = null;

  /** `path`: where trace.json goes. A partial file left by an earlier process is started again. */
  constructor(private readonly path: string) {
    this.partial = `${path}.partial`;
    writing(this.partial, () => writeFileSync(this.partial, ''));
  }

  append(events: readonly TraceEvent[]): void {
    if (this.finished || this.failure || events.length === 0) return;
    try {
      appendFileSync(this.partial, events.map((e) => `,${JSON.stringify(e)}\n`).join(''));
    } catch (error) {
      this.failure = new WriteError(this.partial, error);
    }
  }

  /** Writes trace.json: `head` (thread names), every appended span, then `otherData`. Only once. */
  finish(head: readonly TraceEvent[], otherData: Record<string, unknown>): void {
    if (this.finished) return;
    this.finished = true;
    writing(this.path, () => this.writeWhole(head, otherData));
  }

  private writeWhole(head: readonly TraceEvent[], otherData: Record<string, unknown>): void {
    const temporary = `${this.path}.tmp-${process.pid}`;
    const out = openSync(temporary, 'w');
    try {
      writeSync(out, `{"traceEvents":[\n${head.map((e) => JSON.stringify(e)).join(',\n')}\n`);
      copySpans(this.partial, out, head.length === 0);
      writeSync(out, `],"displayTimeUnit":"ms","otherData":${JSON.stringify(otherData)}}\n`);
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(temporary, this.path);
    rmSync(this.partial, { force: true });
  }
}

/** Copies the partial file in chunks; every line starts with a comma, the first one's is dropped without a head. */
function copySpans(partial: string, out: number, first: boolean): void {
  const input = openSync(partial, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    let skip = first ? 1 : 0;
    for (let n = readSync(input, chunk); n > 0; n = readSync(input, chunk)) {
      writeSync(out, chunk, skip, n - skip);
      skip = 0;
    }
  } finally {
    closeSync(input);
  }
}
