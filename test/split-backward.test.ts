import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Sequential, buildLayers, type LayerSpec } from '../src/model/index.js';

/**
 * A backward pass in two parts (Sequential.inputBackward, then parameterGradients: what lets an
 * update-locked stage send δ down before its parameter gradients) gives backward's values, bit
 * for bit, and leaves no tensor behind.
 */

const dense: LayerSpec[] = [
  { type: 'dense', units: 12, batchNorm: true, activation: 'relu' },
  { type: 'dense', units: 9, activation: 'relu' },
  { type: 'dense', units: 5, activation: 'linear' },
];
const conv: LayerSpec[] = [
  { type: 'conv2d', filters: 4, kernelSize: 3, batchNorm: true, activation: 'relu' },
  { type: 'maxpool', poolSize: 2 },
  { type: 'conv2d', filters: 3, kernelSize: 3, activation: 'relu' },
  { type: 'flatten' },
  { type: 'dense', units: 6, activation: 'linear' },
];

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(new Float32Array(t.dataSync()).buffer));
}

function check(name: string, specs: LayerSpec[], inputShape: number[], batch: number, feedbackAt: number | null): void {
  const { layers } = buildLayers(specs, inputShape, (i) => seedrandom(`${name}:${i}`));
  const net = new Sequential(layers);
  try {
    const rng = seedrandom(name);
    const units = inputShape.reduce((a, b) => a * b, 1);
    const x = tf.tensor2d(Float32Array.from({ length: batch * units }, () => 2 * rng() - 1), [batch, units]);
    const { y, trace } = net.forward(x, true);
    const dy = tf.tensor(Float32Array.from({ length: y.size }, () => 2 * rng() - 1), y.shape);
    // feedback alignment: a fixed matrix instead of one dense layer's kernel for its input gradient
    const feedback = net.layers.map((l, i) => (i === feedbackAt ? tf.randomNormal((l.params[0] as tf.Variable).shape, 0, 1, 'float32', 5) : null));
    const whole = net.backward(trace, dy, true, feedback);
    const before = tf.memory().numTensors;
    const split = net.inputBackward(trace, dy, feedback);
    assert.deepEqual(bits(split.dx), bits(whole.dx!), `${name}: dx`);
    const grads = net.parameterGradients(trace, split.pending);
    assert.equal(grads.length, net.params.length, `${name}: a gradient per parameter`);
    grads.forEach((g, i) => assert.deepEqual(bits(g), bits(whole.grads[i]), `${name}: gradient ${i} (${net.params[i].name})`));
    tf.dispose([split.dx, ...split.pending.flat(), ...grads]);
    assert.equal(tf.memory().numTensors, before, `${name}: the caller disposes dx, pending and the gradients, and nothing is left`);
    tf.dispose([x, y, dy, whole.dx!, ...whole.grads, ...trace.flat(), ...feedback.filter((f): f is tf.Tensor => f !== null)]);
  } finally {
    net.dispose();
  }
}

for (const backend of ['cpu', 'wasm']) {
  describe(`split backward on ${backend}`, () => {
    let previous = '';
    it('dense + BatchNorm, conv + pooling + flatten, feedback alignment: backward bit for bit', async () => {
      previous = tf.getBackend() ?? 'cpu';
      assert.ok(await tf.setBackend(backend));
      check('dense', dense, [7], 8, null);
      // a batch smaller than the widths: the transposed products of dense.ts (packsLess) on wasm
      check('dense, wide', [{ type: 'dense', units: 40, activation: 'relu' }, { type: 'dense', units: 48, activation: 'linear' }], [36], 8, null);
      check('dense with feedback', dense, [7], 8, 2);
      check('conv', conv, [8, 8, 2], 3, null);
    });
    after(async () => {
      if (previous) await tf.setBackend(previous);
    });
  });
}
