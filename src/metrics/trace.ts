import { performance } from 'node:perf_hooks';

/** One Chrome trace-event ("X" complete event, or "M" metadata); times in microseconds. */
export interface TraceEvent {
  name: string;
  ph: 'X' | 'M';
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

/** Microseconds since the epoch from a performance.now() reading; comparable across threads. */
export function epochMicros(now: number): number {
  return Math.round((performance.timeOrigin + now) * 1000);
}

/**
 * Spans of one thread (a stage, or the orchestrator), kept in memory up to `limit` events and
 * handed over in batches. Later spans past the limit are counted, not kept.
 */
export class TraceRecorder {
  private events: TraceEvent[] = [];
  private kept = 0;
  dropped = 0;

  constructor(
    private readonly tid: number,
    private readonly limit = 100_000,
  ) {}

  /** A span from two performance.now() readings. */
  span(name: string, start: number, end: number, args?: Record<string, unknown>): void {
    if (this.kept >= this.limit) {
      this.dropped += 1;
      return;
    }
    this.kept += 1;
    const ts = epochMicros(start);
    this.events.push({ name, cat: name, ph: 'X', pid: 1, tid: this.tid, ts, dur: Math.max(0, epochMicros(end) - ts), ...(args && { args }) });
  }

  /** The spans recorded since the last call. */
  take(): TraceEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }
}

/** The thread-name metadata that labels each row in Perfetto / chrome://tracing. */
export function threadNames(names: Record<number, string>): TraceEvent[] {
  return Object.entries(names).map(([tid, name]) => ({ name: 'thread_name', ph: 'M', pid: 1, tid: Number(tid), ts: 0, args: { name } }));
}

/** The orchestrator's row in the trace sits above the stages. */
export const ORCHESTRATOR_TID = 0;
/** Stage s is thread s + 1. */
export const stageTid = (stage: number) => stage + 1;
