import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { ThreadStageHost } from '../src/transport/threads/thread-host.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { referenceBackprop, maxDifference } from './helpers/reference.js';
import { smallConfig, smallCnnConfig, trainingBatches, copyBatch } from './helpers/fixtures.js';
import type { Config } from '../src/config/schema.js';
import type { Batch } from '../src/data/index.js';

/** The stages' weights after backprop (update-locked, one batch in flight) on `batches`. */
async function pipelinedBackprop(config: Config, batches: Batch[]): Promise<Float32Array[][]> {
  const pipeline = await Pipeline.start(stageSpecs(config, 1), {}, new ThreadStageHost());
  try {
    for (const [step, batch] of batches.entries()) {
      await pipeline.credit(1);
      pipeline.feed(copyBatch(batch), step);
    }
    await pipeline.drain();
    return await pipeline.weights();
  } finally {
    await pipeline.stop();
  }
}

/** Backprop in the stage workers ends with the reference's weights, and training moved them. */
async function assertTransparent(config: Config, batches: Batch[]): Promise<void> {
  const expected = referenceBackprop(config, batches);
  const actual = await pipelinedBackprop(config, batches);
  assert.equal(actual.length, 3);
  const diff = maxDifference(actual, expected);
  assert.ok(diff < 1e-5, `largest weight difference ${diff}`);
  // the comparison is not between two untouched initialisations
  assert.ok(maxDifference(actual, referenceBackprop(config, [])) > 1e-3);
}

test('backprop through the stage workers equals single-process tfjs backprop', async () => {
  await tf.setBackend('wasm');
  await assertTransparent(smallConfig({ mode: 'backprop' }), trainingBatches(6, 32));
});

test('a CNN in stages (conv, BatchNorm, max/avg pooling, flatten) trains exactly as single-process autodiff backprop', async () => {
  // the reference needs conv and pooling gradients, which only the cpu backend has right; the
  // stages run on cpu too, so that both sides round alike (wasm stages differ by about 2e-5)
  await tf.setBackend('cpu');
  await assertTransparent(smallCnnConfig({ mode: 'backprop', backend: 'cpu' }), trainingBatches(4, 16));
});
