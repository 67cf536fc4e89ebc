import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { stageSpecs } from '../src/pipeline/stage-spec.js';
import { referenceBackprop, maxDifference } from './helpers/reference.js';
import { smallConfig, trainingBatches, copyBatch } from './helpers/fixtures.js';

test('backprop through the stage workers equals single-process tfjs backprop', async () => {
  await tf.setBackend('wasm');
  const config = smallConfig({ mode: 'backprop' });
  const batches = trainingBatches(6, 32);
  const expected = referenceBackprop(config, batches);

  const pipeline = await Pipeline.start(stageSpecs(config, 1));
  try {
    for (const [step, batch] of batches.entries()) {
      await pipeline.credit(1);
      pipeline.feed(copyBatch(batch), step);
    }
    await pipeline.drain();
    const actual = await pipeline.weights();
    assert.equal(actual.length, 3);
    const diff = maxDifference(actual, expected);
    assert.ok(diff < 1e-5, `largest weight difference ${diff}`);
    // and training moved the weights: the comparison is not between two untouched initialisations
    const initial = referenceBackprop(config, []);
    assert.ok(maxDifference(actual, initial) > 1e-3);
  } finally {
    await pipeline.stop();
  }
});
