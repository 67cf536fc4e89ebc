/**
 * A worker for test/priorities.test.ts: spins a little, lowers its own priority, reports. Outside a
 * worker (node --test also loads every file under dist/test/helpers) it does nothing.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { readFileSync, readlinkSync } from 'node:fs';
import { lowerThreadPriority } from '../../src/runtime/thread-priority.js';
import { threadCpu } from '../../src/runtime/thread-cpu.js';

const niceOf = (path: string) => Number(readFileSync(path, 'utf8').split(') ')[1].split(' ')[16]);

function report(port: MessagePort): void {
  const before = threadCpu()!.cpuSeconds;
  let x = 0;
  for (let i = 0; i < 2e7; i++) x += Math.sqrt(i);
  const after = threadCpu()!.cpuSeconds;
  const why = lowerThreadPriority(5);
  const tid = readlinkSync('/proc/thread-self').split('/').pop();
  port.postMessage({ nice: niceOf(`/proc/self/task/${tid}/stat`), niceOfMain: niceOf(`/proc/self/task/${process.pid}/stat`), before, after, why, x: x > 0 });
}

if (parentPort) report(parentPort);
