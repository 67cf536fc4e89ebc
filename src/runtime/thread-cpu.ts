import { readFileSync } from 'node:fs';

/** CPU time of the calling thread, from the Linux scheduler's statistics. */
export interface ThreadCpu {
  /** Seconds the thread ran on a core. */
  cpuSeconds: number;
  /** Seconds it was ready to run but waited for a core (others were using them). */
  runQueueSeconds: number;
}

/** The calling thread's CPU times since it started, or null where /proc/thread-self/schedstat is missing. */
export function threadCpu(): ThreadCpu | null {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(run) && Number.isFinite(wait) ? { cpuSeconds: run / 1e9, runQueueSeconds: wait / 1e9 } : null;
  } catch {
    return null;
  }
}
