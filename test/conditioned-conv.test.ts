import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { ConditionedConv2D, Conv2D, buildLayer, glorotUniformConv, type Padding } from '../src/model/index.js';
import { Synthesizer } from '../src/stage/synthesizer.js';

/**
 * ConditionedConv2D computes the Conv2D of [h, label channels] without building the label
 * channels: the reference is a plain Conv2D with the same kernel on h with the one-hot label
 * tiled over the image as extra channels.
 */

const RTOL = 1e-4;
const ATOL = 2e-5;

function assertClose(actual: tf.Tensor, expected: tf.Tensor, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  const e = expected.dataSync();
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i] - e[i]) - (ATOL + RTOL * Math.abs(e[i]));
    assert.ok(excess <= 0, `${what}: element ${i} is ${a[i]}, expected ${e[i]}`);
  }
}

function tiled(h: tf.Tensor4D, oneHot: tf.Tensor2D): tf.Tensor4D {
  const [b, height, width] = h.shape;
  return tf.concat([h, tf.mul(tf.reshape(oneHot, [b, 1, 1, oneHot.shape[1]]), tf.ones([1, height, width, 1]))], 3) as tf.Tensor4D;
}

interface Case {
  name: string;
  shape: [number, number, number];
  classes: number;
  filters: number;
  kernelSize: number;
  stride: number;
  padding: Padding;
  activation: 'relu' | 'linear';
  useBias: boolean;
  batch: number;
}

const cases: Case[] = [
  { name: '5x5 same, linear with bias (the cDNI synthesizer)', shape: [8, 8, 3], classes: 4, filters: 5, kernelSize: 5, stride: 1, padding: 'same', activation: 'linear', useBias: true, batch: 6 },
  { name: '3x3 same, relu, no bias', shape: [7, 6, 2], classes: 3, filters: 4, kernelSize: 3, stride: 1, padding: 'same', activation: 'relu', useBias: false, batch: 5 },
  { name: '3x3 stride 2 valid, relu with bias', shape: [9, 9, 4], classes: 5, filters: 3, kernelSize: 3, stride: 2, padding: 'valid', activation: 'relu', useBias: true, batch: 4 },
  { name: '5x5 same on 16 channels, 10 classes, 16 filters (the MNIST CNN shape, small batch)', shape: [14, 14, 16], classes: 10, filters: 16, kernelSize: 5, stride: 1, padding: 'same', activation: 'linear', useBias: true, batch: 3 },
];

function check(c: Case, seed: string): void {
  const rng = seedrandom(seed);
  const [h, w, ch] = c.shape;
  const inputShape = [h, w, ch + c.classes];
  const init = glorotUniformConv(c.kernelSize, ch + c.classes, c.filters, rng);
  const opts = { inputShape, filters: c.filters, kernelSize: c.kernelSize, stride: c.stride, padding: c.padding, useBias: c.useBias, activation: c.activation, init };
  const layer = new ConditionedConv2D({ ...opts, classes: c.classes });
  const plain = new Conv2D(opts);
  try {
    if (layer.bias) tf.tidy(() => {
      const b = tf.randomUniform([c.filters], -0.3, 0.3, 'float32', 7) as tf.Tensor1D;
      layer.bias!.assign(b);
      plain.bias!.assign(b);
    });
    tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from({ length: c.batch * h * w * ch }, () => 2 * rng() - 1), [c.batch, h, w, ch]);
      const labels = Int32Array.from({ length: c.batch }, (_, i) => (i * 7 + 1) % c.classes);
      const oneHot = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), c.classes), 'float32') as tf.Tensor2D;
      const own = layer.forward(x, true, oneHot);
      const ref = plain.forward(tiled(x, oneHot), true);
      assertClose(own.y, ref.y, `${c.name}: y`);
      assertClose(layer.forward(x, false, oneHot).y, plain.forward(tiled(x, oneHot), false).y, `${c.name}: y (evaluation)`);
      const dy = tf.randomNormal(own.y.shape, 0, 1, 'float32', 3);
      const got = layer.backward(own.trace, dy, true);
      const want = plain.backward(ref.trace, dy, true);
      got.grads.forEach((g, i) => assertClose(g, want.grads[i], `${c.name}: grad ${i}`));
      // dx: the h channels of the reference's input gradient
      assertClose(got.dx!, tf.slice(want.dx!, [0, 0, 0, 0], [c.batch, h, w, ch]), `${c.name}: dx`);
      assert.equal(layer.backward(own.trace, dy, false).dx, null);
    });
  } finally {
    layer.dispose();
    tf.dispose([...layer.params, ...plain.params]);
  }
}

for (const backend of ['cpu', 'wasm']) {
  describe(`conditioned conv on ${backend}: the conv of [h, tiled label] without the label channels`, () => {
    let previous = '';
    it('every case', async () => {
      previous = tf.getBackend() ?? 'cpu';
      assert.ok(await tf.setBackend(backend), `backend ${backend}`);
      for (const c of cases) check(c, `${backend}:${c.name}`);
    });
    after(async () => {
      if (previous) await tf.setBackend(previous);
    });
  });
}

describe('conditioned conv: wiring and errors', () => {
  it('buildLayer with labelChannels makes one; without, a plain Conv2D; same kernel shape and initial values', () => {
    const spec = { type: 'conv2d', filters: 4, kernelSize: 3, activation: 'linear' } as const;
    const [a] = buildLayer(spec, [6, 6, 5], seedrandom('k'), { labelChannels: 3 });
    const [b] = buildLayer(spec, [6, 6, 5], seedrandom('k'));
    try {
      assert.ok(a instanceof ConditionedConv2D);
      assert.ok(!(b instanceof ConditionedConv2D) && b instanceof Conv2D);
      assert.deepEqual((a as Conv2D).kernel.shape, [3, 3, 5, 4]);
      assert.deepEqual(Array.from((a as Conv2D).kernel.dataSync()), Array.from((b as Conv2D).kernel.dataSync()));
      assert.deepEqual((a as ConditionedConv2D).hShape, [6, 6, 2]);
    } finally {
      tf.dispose([...a.params, ...b.params]);
    }
  });

  it('forward without the label, or with a label of the wrong width, names the layer and what it needs', () => {
    const layer = new ConditionedConv2D({ inputShape: [4, 4, 5], classes: 3, filters: 2, kernelSize: 3, useBias: true, activation: 'linear', init: 'zeros', name: 'm' });
    try {
      const x = tf.zeros([2, 4, 4, 2]);
      assert.throws(() => layer.forward(x, true), /m: forward needs the one-hot label as its condition, \[2, 3\], got none/);
      assert.throws(() => layer.forward(x, true, tf.zeros([2, 4])), /got \[2, 4\]/);
      assert.throws(() => new ConditionedConv2D({ inputShape: [4, 4, 3], classes: 3, filters: 2, kernelSize: 3, useBias: true, activation: 'linear', init: 'zeros' }), /leave none for h/);
    } finally {
      layer.dispose();
      tf.dispose(layer.params);
    }
  });

  it("a cDNI conv synthesizer's first layer is conditioned, and its step from the prediction equals the step that predicts again", async () => {
    const options = {
      shape: [6, 6, 3],
      conditioned: true,
      classes: 4,
      kernelSize: 3,
      hiddenLayers: [],
      batchNorm: false,
      learningRate: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
    };
    const a = new Synthesizer({ ...options, rng: seedrandom('s') });
    const b = new Synthesizer({ ...options, rng: seedrandom('s') });
    try {
      assert.ok(a.net.layers[0] instanceof ConditionedConv2D);
      const h = tf.randomNormal([5, 6, 6, 3], 0, 1, 'float32', 1);
      const oneHot = tf.cast(tf.oneHot(tf.tensor1d([0, 3, 1, 1, 2], 'int32'), 4), 'float32') as tf.Tensor2D;
      const target = tf.randomNormal([5, 6, 6, 3], 0, 1, 'float32', 2);
      // one step so the output layer is no longer zero, then a prediction and a step from it
      await a.train(h, oneHot, target, target);
      await b.train(h, oneHot, target, target);
      const pa = a.predict(h, oneHot);
      const pb = b.predict(h, oneHot);
      assert.ok(tf.any(tf.notEqual(pa, 0)).dataSync()[0], 'M predicts something after a step');
      const sa = await a.train(h, oneHot, target, pa, pa);
      const sb = await b.train(h, oneHot, target, pb);
      assert.ok(Math.abs(sa.loss - sb.loss) <= 1e-5 * Math.abs(sb.loss), `loss ${sa.loss} against ${sb.loss}`);
      a.net.params.forEach((p, i) => assertClose(p, b.net.params[i], `param ${i}`));
      tf.dispose([h, oneHot, target, pa, pb]);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
