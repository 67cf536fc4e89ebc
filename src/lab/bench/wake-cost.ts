/**
 * What one message between two threads costs its sender, by how long the receiver has been idle:
 * two worker threads pass a Float32Array back and forth (moved, as stages move activations), and
 * each times its own postMessage. The receiver either polls its port (never blocked, so nothing
 * has to wake it) or blocks in its event loop; a blocked receiver waits `idleMs` (the sender spins
 * that long before sending), so the send then wakes a thread idle for that long.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { median, quantile } from './stats.js';

/** One arrangement of the ping-pong. */
export interface WakeCase {
  name: string;
  /** The receiver polls its port instead of blocking. */
  poll: boolean;
  /** How long the receiver has been waiting when the message is sent, in ms (blocking cases). */
  idleMs: number;
}

export const WAKE_CASES: readonly WakeCase[] = [
  { name: 'receiver polling', poll: true, idleMs: 0 },
  { name: 'receiver just blocked', poll: false, idleMs: 0 },
  { name: 'receiver blocked 0.1 ms', poll: false, idleMs: 0.1 },
  { name: 'receiver blocked 0.5 ms', poll: false, idleMs: 0.5 },
  { name: 'receiver blocked 2 ms', poll: false, idleMs: 2 },
];

/** What each of the two peer threads is given. */
export interface WakePeerTask {
  first: boolean;
  rounds: number;
  floats: number;
  poll: boolean;
  idleMs: number;
}

/** Send times of one run of a case: every send of both threads, warm-up sends left out. */
export interface WakeRun {
  case: string;
  sends: number;
  medianUs: number;
  p90Us: number;
}

const peerFile = new URL('./wake-peer-worker.js', import.meta.url);

/** Runs one case: `rounds` messages each way, the first `warmup` of each thread's sends left out. */
export async function runWakeCase(c: WakeCase, options: { rounds: number; warmup: number; floats: number }): Promise<WakeRun> {
  const ab = new MessageChannel();
  const ba = new MessageChannel();
  const peers = [
    { out: ab.port1, in: ba.port2, first: true },
    { out: ba.port1, in: ab.port2, first: false },
  ].map(
    (p) =>
      new Promise<number[]>((resolve, reject) => {
        const task: WakePeerTask = { first: p.first, rounds: options.rounds + options.warmup, floats: options.floats, poll: c.poll, idleMs: c.idleMs };
        const worker = new Worker(peerFile, { workerData: { ...task, out: p.out, in: p.in }, transferList: [p.out, p.in] });
        worker.once('message', (times: number[]) => resolve(times.slice(options.warmup)));
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`wake-cost peer exited with code ${code} before reporting`)));
      }),
  );
  const times = (await Promise.all(peers)).flat();
  return { case: c.name, sends: times.length, medianUs: median(times) * 1000, p90Us: quantile(times, 0.9) * 1000 };
}
