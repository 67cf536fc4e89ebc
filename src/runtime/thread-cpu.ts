import { readFileSync } from 'node:fs';

/** CPU time of the calling thread, from the Linux scheduler's statistics. */
export interface ThreadCpu {
  /** Seconds the thread ran on a core. */
  cpuSeconds: number;
  /** Seconds it was ready to run but waited for a core (others were using them). */
  runQueueSeconds: number;
}

const nap = new Int32Array(new SharedArrayBuffer(4));

/**
 * threadCpu brought up to date: the kernel updates a running thread's schedstat only at scheduler
 * ticks and when it leaves its core, so a read while running can be a tick behind (short spans
 * read as 0). This one first sleeps 1 ms, so the thread has just left its core.
 */
export function settledThreadCpu(): ThreadCpu | null {
  Atomics.wait(nap, 0, 0, 1);
  return threadCpu();
}

/**
 * The calling thread's CPU times since it started, or null where /proc/thread-self/schedstat is
 * missing. Up to a scheduler tick behind for the running thread (see settledThreadCpu).
 */
export function threadCpu(): ThreadCpu | null {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(run) && Number.isFinite(wait) ? { cpuSeconds: run / 1e9, runQueueSeconds: wait / 1e9 } : null;
  } catch {
    return null;
  }
}
