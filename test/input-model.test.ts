import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { InputModel } from '../src/stage/input-model.js';
import { keepRunningStatistics } from '../src/stage/synthetic-input.js';
import { Sequential, buildLayer } from '../src/model/index.js';
import { stream } from '../src/stage/rng.js';

before(async () => {
  await tf.setBackend('wasm');
});

const adam = { learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

test('an input model learns to predict a stage input h = relu(x W) from x', async () => {
  const rng = stream('test', 'input-model');
  const model = new InputModel({ dataUnits: 20, units: 8, hiddenLayers: [32], batchNorm: true, rng, ...adam });
  const w = tf.randomNormal([20, 8], 0, 1, 'float32', 3);
  const losses: number[] = [];
  try {
    for (let step = 0; step < 300; step++) {
      const x = tf.randomUniform([32, 20], 0, 1, 'float32', step) as tf.Tensor2D;
      const h = tf.tidy(() => tf.relu(tf.matMul(tf.sub(x, 0.5), w))) as tf.Tensor2D;
      losses.push(await model.train(x, h));
      tf.dispose([x, h]);
    }
    const first = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
    const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
    assert.ok(last < first / 5, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    // predict has the shape of the interface and is not trained by being called
    const x = tf.randomUniform([4, 20], 0, 1, 'float32', 999) as tf.Tensor2D;
    const before = (await model.net.getWeights());
    const hHat = model.predict(x);
    assert.deepEqual(hHat.shape, [4, 8]);
    assert.deepEqual((await model.net.getWeights()).slice(0, model.net.params.length), before.slice(0, model.net.params.length));
    tf.dispose([x, hHat]);
  } finally {
    w.dispose();
    model.dispose();
  }
});

test('keepRunningStatistics leaves BatchNorm running statistics as they were', async () => {
  const net = new Sequential(buildLayer({ type: 'dense', units: 6, batchNorm: true }, 5, stream('test', 'bn')));
  const x = tf.randomNormal([16, 5], 2, 3, 'float32', 1);
  try {
    const before = (await net.getWeights());
    const y = keepRunningStatistics(net, () => tf.tidy(() => net.forward(x, true).y));
    assert.deepEqual((await net.getWeights()), before);
    y.dispose();
    tf.tidy(() => net.forward(x, true).y.dispose());
    assert.notDeepEqual((await net.getWeights()), before, 'an ordinary training pass moves them');
  } finally {
    x.dispose();
    net.dispose();
  }
});
