/**
 * One of the two threads of the wake-cost ping-pong (src/lab/bench/wake-cost.ts): receives a buffer,
 * spins `idleMs` (so its peer has been blocked that long), sends a new one and times the send;
 * reports its send times (ms) when its rounds are done.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { WakePeerTask } from './wake-cost.js';

const task = workerData as WakePeerTask & { out: MessagePort; in: MessagePort };
const times: number[] = [];

function send(step: number): void {
  const until = performance.now() + task.idleMs;
  while (performance.now() < until); // the peer waits meanwhile
  const data = new Float32Array(task.floats);
  const t0 = performance.now();
  task.out.postMessage({ step, data }, [data.buffer]);
  times.push(performance.now() - t0);
}

function receive(): Promise<unknown> {
  if (task.poll) {
    for (;;) {
      const m = receiveMessageOnPort(task.in);
      if (m) return Promise.resolve(m.message);
    }
  }
  return new Promise((resolve) => task.in.once('message', resolve));
}

if (task.first) send(0);
for (let received = 1; received <= task.rounds; received++) {
  await receive();
  if (!task.first || received < task.rounds) send(received);
}
parentPort!.postMessage(times);
task.out.close();
task.in.close();
