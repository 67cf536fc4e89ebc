/**
 * A free-running stage worker of stage-scaling (src/lab/bench/free-running.ts): builds its stage on its
 * own tfjs backend, warms up, says so, waits for the common start, runs its timed steps with no
 * messages to any other stage, and reports its thread's CPU time and when its last step ended.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { StageDriver } from './stage-driver.js';
import { cpuBetween, cpuNow, type FreeStageMessage, type FreeStageTask } from './free-running.js';
import { selectBackend } from '../../runtime/backend.js';

const task = workerData as FreeStageTask;
const post = (message: FreeStageMessage) => parentPort!.postMessage(message);

await selectBackend(task.backend);
const driver = new StageDriver(task.spec, task.batchSize, task.seed);
for (let i = 0; i < task.warmup; i++) await driver.step();
const before = cpuNow(); // before the release, so its 1 ms nap is no part of the timed steps
post({ kind: 'ready' });
Atomics.wait(new Int32Array(task.start), 0, 0);
for (let i = 0; i < task.steps; i++) await driver.step();
const endNs = process.hrtime.bigint();
post({ kind: 'done', cpu: cpuBetween(before, cpuNow()), endNs });
driver.dispose();
