import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { ThreadStageHost } from '../src/transport/threads/thread-host.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { StageError } from '../src/pipeline/stage-error.js';
import type { Config } from '../src/config/schema.js';
import { maxDifference } from './helpers/reference.js';
import { smallConfig, trainingBatches, copyBatch } from './helpers/fixtures.js';

async function trainedWeights(config: Config, steps: number, window: number): Promise<Float32Array[][]> {
  const batches = trainingBatches(steps, 32);
  const pipeline = await Pipeline.start(stageSpecs(config, window), {}, new ThreadStageHost());
  try {
    for (const [step, batch] of batches.entries()) {
      await pipeline.credit(window);
      pipeline.feed(copyBatch(batch), step);
    }
    await pipeline.drain();
    return await pipeline.weights();
  } finally {
    await pipeline.stop();
  }
}

test('lockstep cDNI with stochastic updates: two runs with one seed give identical weights', async () => {
  const config = smallConfig({ mode: 'cdni', train: { updateProbability: 0.5, seed: 3 } });
  const a = await trainedWeights(config, 8, 1);
  const b = await trainedWeights(config, 8, 1);
  assert.equal(maxDifference(a, b), 0);
  const other = await trainedWeights(smallConfig({ mode: 'cdni', train: { updateProbability: 0.5, seed: 4 } }), 8, 1);
  assert.ok(maxDifference(a, other) > 0, 'another seed should give other weights');
});

test('pipelined cDNI with stochastic updates runs several batches at once, yet two runs give identical weights', async () => {
  const config = smallConfig({ mode: 'cdni', train: { schedule: 'pipelined', updateProbability: 0.5, seed: 5 } });
  const a = await trainedWeights(config, 16, 4);
  const b = await trainedWeights(config, 16, 4);
  assert.equal(maxDifference(a, b), 0);
  const lockstep = await trainedWeights(smallConfig({ mode: 'cdni', train: { updateProbability: 0.5, seed: 5 } }), 16, 1);
  assert.ok(maxDifference(a, lockstep) > 0, 'stale synthesizers make pipelined differ from lockstep');
});

function workerThreads(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(/Threads:\s+(\d+)/.exec(status)![1]);
}

test('an async DNI run with a window of 4 finishes without deadlock and leaves no worker behind', async () => {
  const threadsBefore = workerThreads();
  const weights = await trainedWeights(smallConfig({ mode: 'dni', synthesizer: { hiddenLayers: [16] } }), 24, 4);
  assert.equal(weights.length, 3);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(workerThreads() <= threadsBefore, `threads before ${threadsBefore}, after ${workerThreads()}`);
});

test('an error in a stage worker reaches the orchestrator with its stage and stack', async () => {
  const config = smallConfig({ mode: 'cdni' });
  const pipeline = await Pipeline.start(stageSpecs(config, 1), {}, new ThreadStageHost());
  try {
    const [batch] = trainingBatches(1, 32);
    // a batch whose rows do not match its activations: stage 0 fails to shape it
    pipeline.feed({ ...copyBatch(batch), size: 31 }, 0);
    await assert.rejects(pipeline.drain(), (error: unknown) => {
      assert.ok(error instanceof StageError);
      assert.equal(error.stage, 0);
      assert.match(error.message, /^stage 0 failed: (?!stage 0: )/, 'the stage is named once');
      assert.match(String(error.stack), /worker stack:[\s\S]*at /);
      return true;
    });
  } finally {
    await pipeline.destroy();
  }
});
