import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lowers the scheduling priority (raises the nice value) of the calling thread alone: a stage's
 * worker thread, or a stage process's main thread. Linux only (the thread id comes from
 * /proc/thread-self). Raising a nice value needs no privilege; lowering it again does, so this
 * is a one-way step. Returns null when done, else why not.
 */
export function lowerThreadPriority(nice: number): string | null {
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return 'per-thread priorities need Linux (/proc/thread-self)';
  }
  try {
    setPriority(tid, nice);
    return null;
  } catch (error) {
    return `setpriority(${tid}, ${nice}) failed: ${(error as Error).message}`;
  }
}
