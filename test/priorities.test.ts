import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { stageNiceness, MAX_NICE } from '../src/pipeline/priorities.js';
import { prioritizesStages } from '../src/train.js';
import { validateConfig } from '../src/config/resolve.js';
import { presets } from '../src/config/presets.js';
import { threadCpu } from '../src/runtime/thread-cpu.js';
import { testNeeding } from './helpers/needs.js';

test('the busiest stage keeps nice 0; weights follow 1.25^-nice in proportion to work', () => {
  assert.deepEqual(stageNiceness([10, 10]), [0, 0]);
  // 1.25^3 ≈ 1.95: half the work, nice 3
  assert.deepEqual(stageNiceness([2, 1, 4]), [3, 6, 0]);
  const nice = stageNiceness([10.8, 6.5, 6.5, 0.5]);
  assert.deepEqual(nice, [0, 2, 2, 14]);
  nice.forEach((n, s) => {
    const ratio = Math.pow(1.25, -n) / ([10.8, 6.5, 6.5, 0.5][s] / 10.8);
    assert.ok(ratio > 0.85 && ratio < 1.2, `stage ${s}: weight/work ratio ${ratio}`);
  });
});

test('nice values are capped, and no measured work leaves every stage alone', () => {
  assert.deepEqual(stageNiceness([1000, 1e-6, 0]), [0, MAX_NICE, MAX_NICE]);
  assert.deepEqual(stageNiceness([0, 0, 0]), [0, 0, 0]);
});

test('priorities are set only for concurrent schedules with more stages than cores on this machine, unless off', () => {
  const auto = { ...presets['mnist-cdni'].train, priorities: 'auto' as const };
  const cores = availableParallelism();
  assert.equal(prioritizesStages(validateConfig(presets['mnist-cdni'])), 4 > cores, 'auto by default');
  assert.equal(prioritizesStages(validateConfig({ ...presets['mnist-cdni'], train: auto })), 4 > cores);
  // stages this run starts share its machine; stages that join over NATS may be on others
  assert.equal(prioritizesStages(validateConfig({ ...presets['mnist-cdni'], train: auto }), { stages: 'spawn' }), 4 > cores);
  assert.equal(prioritizesStages(validateConfig({ ...presets['mnist-cdni'], train: auto }), { stages: 'join' }), false);
  assert.equal(prioritizesStages(validateConfig({ ...presets['mnist-cdni'], train: { ...auto, schedule: 'lockstep' } })), false);
  assert.equal(prioritizesStages(validateConfig({ ...presets['mnist-cdni'], train: { ...presets['mnist-cdni'].train, priorities: 'off' } })), false);
  assert.equal(prioritizesStages(validateConfig({ ...presets['mnist-backprop'], train: { ...presets['mnist-backprop'].train, priorities: 'auto' } })), false);
});

testNeeding(threadCpu() ? null : '/proc/thread-self/schedstat is missing (a Linux kernel with scheduler statistics)', 'a worker thread reads its own CPU time and lowers its own priority only', {}, async () => {
  const url = new URL('./helpers/priority-worker.js', import.meta.url);
  const reply = await new Promise<{ nice: number; niceOfMain: number; before: number; after: number; why: string | null }>((resolve, reject) => {
    const worker = new Worker(url);
    worker.once('message', (m) => void worker.terminate().then(() => resolve(m)));
    worker.once('error', reject);
  });
  assert.equal(reply.why, null);
  assert.equal(reply.nice, 5);
  assert.equal(reply.niceOfMain, Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[16]));
  assert.ok(reply.after > reply.before, `thread CPU time went from ${reply.before} to ${reply.after} over a busy loop`);
});
