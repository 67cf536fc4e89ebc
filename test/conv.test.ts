import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs-core';
// the reference is tfjs's own autodiff: the full tfjs package registers every op's gradient (synthgrad
// itself loads tfjs-core alone and writes its backward passes out)
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { weightsNow } from './helpers/weights-now.js';
import { ops } from '../src/runtime/ops.js';
import {
  AvgPool2D,
  BatchNorm,
  Conv2D,
  Dense,
  Flatten,
  MaxPool2D,
  Reshape,
  Sequential,
  axisPadding,
  buildLayer,
  buildLayers,
  conv2dOutputShape,
  glorotUniformConv,
  outputShape,
  outputShapeOf,
  outputUnits,
  pool2dOutputShape,
  type Layer,
  type LayerSpec,
  type Padding,
} from '../src/model/index.js';

const RTOL = 1e-4;
const ATOL = 1e-5;

interface Values {
  shape: number[];
  data: Float32Array;
}

function values(t: tf.Tensor): Values {
  return { shape: [...t.shape], data: new Float32Array(t.dataSync()) };
}

/** |actual - expected| <= ATOL + RTOL * |expected| elementwise, and the same shape. */
function assertClose(actual: tf.Tensor | Values, expected: tf.Tensor | Values, what: string): void {
  const a = actual instanceof tf.Tensor ? values(actual) : actual;
  const e = expected instanceof tf.Tensor ? values(expected) : expected;
  assert.deepEqual(a.shape, e.shape, `${what}: shape`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.data.length; i++) {
    const excess = Math.abs(a.data[i] - e.data[i]) - (ATOL + RTOL * Math.abs(e.data[i]));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      at = i;
    }
  }
  assert.ok(at < 0, `${what}: element ${at} is ${a.data[at]}, expected ${e.data[at]} (beyond ${ATOL} + ${RTOL} * |expected|)`);
}

function randArray(n: number, rng: () => number, scale = 1, offset = 0): Float32Array {
  return Float32Array.from({ length: n }, () => offset + (2 * rng() - 1) * scale);
}

/** tf.tidy for functions returning plain objects of copied values. */
function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as () => tf.TensorContainer) as T;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------------------------------------
// One layer against a reference written with plain tf ops (autodiff on the cpu backend).

interface LayerCase {
  name: string;
  batch: number;
  /** A fresh layer (deterministic: the same on every backend). */
  build(): Layer;
  /** Input values: 'normal' (uniform in [-1, 1]) or 'ties' (small integers, ReLU'd: many equal maxima). */
  input?: 'normal' | 'ties';
  /** y from x and the layer's params (in Layer.params order) with autodiff-able ops. */
  ref(layer: Layer, x: tf.Tensor, params: tf.Tensor[]): tf.Tensor;
}

interface Reference {
  y: Values;
  dx: Values;
  grads: Values[];
}

/** Deterministic inputs, upstream gradient and parameter values of a case. */
function caseData(c: LayerCase, layer: Layer) {
  const rng = seedrandom(c.name);
  const xShape = [c.batch, ...layer.inputShape];
  const n = size(xShape);
  const x =
    c.input === 'ties'
      ? Float32Array.from({ length: n }, () => Math.max(0, Math.round((2 * rng() - 1) * 2)))
      : randArray(n, rng);
  const dy = randArray(c.batch * layer.outputUnits, rng);
  const params = layer.params.map((p, i) => {
    if (layer instanceof Conv2D && i === 0) return glorotUniformConv(layer.kernelSize, layer.inputShape[2], layer.filters, rng);
    if (layer instanceof BatchNorm && i === 0) return randArray(p.size, rng, 0.5, 1); // gamma around 1
    return randArray(p.size, rng, 0.5);
  });
  return { xShape, x, dyShape: [c.batch, ...layer.outputShape], dy, params };
}

function setParams(layer: Layer, params: Float32Array[]): void {
  tf.tidy(() => layer.params.forEach((p, i) => p.assign(tf.tensor(params[i], p.shape))));
}

function disposeLayer(layer: Layer): void {
  tf.dispose([...layer.params, ...layer.state]);
}

/** The reference y, dx and param grads of a case (on the current backend, by autodiff). */
function reference(c: LayerCase): Reference {
  const layer = c.build();
  const d = caseData(c, layer);
  setParams(layer, d.params);
  const out = tidy(() => {
    const x = tf.tensor(d.x, d.xShape);
    const dy = tf.tensor(d.dy, d.dyShape);
    const y = c.ref(layer, x, layer.params);
    const g = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(c.ref(layer, a[0], a.slice(1)), dy)))([x, ...layer.params]);
    return { y: values(y), dx: values(g[0]), grads: g.slice(1).map(values) };
  });
  disposeLayer(layer);
  return out;
}

/** Runs the layer's forward and backward on the current backend and compares with `ref`. */
function checkLayer(c: LayerCase, ref: Reference): void {
  const layer = c.build();
  const d = caseData(c, layer);
  setParams(layer, d.params);
  const what = `${c.name} on ${tf.getBackend()}`;
  const x = tf.tensor(d.x, d.xShape);
  const dy = tf.tensor(d.dy, d.dyShape);

  const count = tf.memory().numTensors;
  const { y, trace } = layer.forward(x, true);
  const { dx, grads } = layer.backward(trace, dy, true);
  assert.ok(dx, `${what}: dx`);
  assert.equal(grads.length, layer.params.length, `${what}: one grad per param`);
  assertClose(y, ref.y, `${what} y`);
  assertClose(dx, ref.dx, `${what} dx`);
  grads.forEach((g, i) => assertClose(g, ref.grads[i], `${what} grad ${i} (${layer.params[i].shape.join('x')})`));

  // without the input gradient: the same grads, dx null
  const noDx = layer.backward(trace, dy, false);
  assert.equal(noDx.dx, null);
  noDx.grads.forEach((g, i) => assertClose(g, grads[i], `${what} grads without dx ${i}`));

  // flat input and flat dy ([batch, units]) give the same results in the layer's own shapes
  const xFlat = tf.reshape(x, [c.batch, layer.inputUnits]);
  const dyFlat = tf.reshape(dy, [c.batch, layer.outputUnits]);
  const flat = layer.forward(xFlat, true);
  const flatBack = layer.backward(flat.trace, dyFlat, true);
  assertClose(flat.y, y, `${what} y from a flat x`);
  assertClose(flatBack.dx!, dx, `${what} dx from a flat dy`);
  flatBack.grads.forEach((g, i) => assertClose(g, grads[i], `${what} grad ${i} from a flat dy`));

  tf.dispose([y, dx, ...grads, ...noDx.grads, flat.y, flatBack.dx!, ...flatBack.grads, xFlat, dyFlat]);
  tf.dispose(trace);
  tf.dispose(flat.trace);
  assert.equal(tf.memory().numTensors, count, `${what}: tensor leak`);

  // eval mode: no trace, and (no batch norm here) the same output
  if (!(layer instanceof BatchNorm)) {
    const evalOut = layer.forward(x, false);
    assert.equal(evalOut.trace.length, 0);
    assertClose(evalOut.y, ref.y, `${what} eval y`);
    evalOut.y.dispose();
  }
  assert.equal(tf.memory().numTensors, count, `${what}: tensor leak (eval)`);
  tf.dispose([x, dy]);
  disposeLayer(layer);
}

const act = (z: tf.Tensor, a: 'relu' | 'linear') => (a === 'relu' ? tf.relu(z) : z);

function convCase(
  name: string,
  inputShape: [number, number, number],
  filters: number,
  kernelSize: number,
  stride: number,
  padding: Padding,
  useBias: boolean,
  activation: 'relu' | 'linear',
  batch = 3,
): LayerCase {
  return {
    name: `conv2d ${name}`,
    batch,
    build: () => new Conv2D({ inputShape, filters, kernelSize, stride, padding, useBias, activation, init: 'zeros' }),
    ref: (_layer, x, [w, b]) => {
      const z = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, padding);
      return act(b ? tf.add(z, b) : z, activation);
    },
  };
}

function bnCase(name: string, inputShape: number[], activation: 'relu' | 'linear', batch = 4): LayerCase {
  return {
    name: `batchnorm ${name}`,
    batch,
    build: () => new BatchNorm({ units: inputShape[inputShape.length - 1], inputShape, activation }),
    ref: (_layer, x, [gamma, beta]) => {
      const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
      const { mean, variance } = tf.moments(x, axes);
      return act(tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-3))), gamma), beta), activation);
    },
  };
}

function maxPoolCase(name: string, inputShape: [number, number, number], p: number, s: number, padding: Padding, input: 'normal' | 'ties'): LayerCase {
  return {
    name: `maxpool ${name}`,
    batch: 2,
    input,
    build: () => new MaxPool2D({ inputShape, poolSize: p, stride: s, padding }),
    ref: (_layer, x) => tf.maxPool(x as tf.Tensor4D, p, s, padding),
  };
}

/**
 * Average over the window positions inside the input (tf.avgPool's forward). tfjs's own gradient
 * of tf.avgPool with 'same' padding divides by p*p at the borders too, so the reference is written
 * as a sum pool over the zero-padded input divided by the count, whose autodiff is exact.
 */
function avgPoolRef(x: tf.Tensor4D, p: number, s: number, padding: Padding): tf.Tensor {
  if (padding === 'valid') return tf.avgPool(x, p, s, 'valid');
  const [, h, w] = x.shape;
  const pad = (n: number) => {
    const out = Math.ceil(n / s);
    const total = Math.max((out - 1) * s + p - n, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)] as [number, number];
  };
  const paddings: [number, number][] = [[0, 0], pad(h), pad(w), [0, 0]];
  const sumPool = (t: tf.Tensor4D) => tf.mul(tf.avgPool(tf.pad(t, paddings), p, s, 'valid'), p * p);
  const count = sumPool(tf.ones([1, h, w, 1]) as tf.Tensor4D);
  return tf.div(sumPool(x), count);
}

function avgPoolCase(name: string, inputShape: [number, number, number], p: number, s: number, padding: Padding): LayerCase {
  return {
    name: `avgpool ${name}`,
    batch: 2,
    build: () => new AvgPool2D({ inputShape, poolSize: p, stride: s, padding }),
    ref: (_layer, x) => avgPoolRef(x as tf.Tensor4D, p, s, padding),
  };
}

const CASES: LayerCase[] = [
  convCase('3x3 same relu bias', [7, 6, 3], 4, 3, 1, 'same', true, 'relu'),
  convCase('3x3 same linear no bias', [5, 5, 2], 3, 3, 1, 'same', false, 'linear'),
  convCase('5x5 same relu on 5x5', [5, 5, 1], 4, 5, 1, 'same', true, 'relu'),
  convCase('2x2 (even) same linear', [6, 5, 2], 3, 2, 1, 'same', true, 'linear'),
  convCase('1x1 relu', [4, 4, 5], 3, 1, 1, 'same', true, 'relu'),
  convCase('3x3 valid relu', [7, 6, 2], 3, 3, 1, 'valid', true, 'relu'),
  convCase('3x3 stride 2 same relu', [7, 8, 2], 3, 3, 2, 'same', true, 'relu'),
  convCase('4x4 stride 2 same linear', [8, 7, 2], 3, 4, 2, 'same', false, 'linear'),
  convCase('3x3 stride 3 valid (unused rows)', [8, 9, 2], 3, 3, 3, 'valid', true, 'linear'),
  convCase('2x2 stride 3 same (no padding, gaps)', [8, 7, 2], 2, 2, 3, 'same', true, 'relu'),
  // more input channels: on wasm the filter gradient's window matrix in SIMD blocks of 4
  // channels, a tail, and blocks of 16 (32 filters), or the conv2d (20 channels, 4 filters)
  convCase('3x3 stride 2 same relu, 6 channels', [9, 10, 6], 3, 3, 2, 'same', true, 'relu'),
  convCase('5x5 same linear, 9 channels', [6, 7, 9], 5, 5, 1, 'same', false, 'linear'),
  convCase('3x3 valid relu, 20 channels, 32 filters', [6, 9, 20], 32, 3, 1, 'valid', true, 'relu'),
  convCase('3x3 valid relu, 20 channels', [6, 9, 20], 4, 3, 1, 'valid', true, 'relu'),
  // filters in fours: wasm sums the filter gradient directly (kernels.wat filter_gradient), 16 at a
  // time then 4; with edges, strides and gaps
  convCase('3x3 stride 2 same relu, 8 filters', [7, 8, 2], 8, 3, 2, 'same', true, 'relu'),
  convCase('2x2 stride 3 same, 4 filters (gaps)', [8, 7, 2], 4, 2, 3, 'same', true, 'linear'),
  convCase('4x4 stride 2 same, 12 filters', [8, 7, 3], 12, 4, 2, 'same', false, 'linear'),
  convCase('5x5 same, one channel, 20 filters (16 + 4)', [9, 8, 1], 20, 5, 1, 'same', true, 'relu'),
  convCase('3x3 stride 3 valid, 16 filters (unused rows)', [8, 9, 2], 16, 3, 3, 'valid', true, 'linear'),
  bnCase('NHWC relu', [5, 4, 3], 'relu'),
  bnCase('NHWC linear', [3, 6, 4], 'linear'),
  bnCase('1-D relu', [6], 'relu', 10),
  // channels in fours and a remainder: the wasm kernels' SIMD lanes and their scalar tail
  bnCase('NHWC relu, 9 channels', [3, 4, 9], 'relu'),
  maxPoolCase('2x2 valid', [6, 8, 3], 2, 2, 'valid', 'normal'),
  maxPoolCase('2x2 valid ties', [6, 8, 3], 2, 2, 'valid', 'ties'),
  maxPoolCase('2x2 same odd size ties', [7, 5, 2], 2, 2, 'same', 'ties'),
  maxPoolCase('3x3 stride 2 same ties', [7, 8, 2], 3, 2, 'same', 'ties'),
  maxPoolCase('3x3 stride 1 same', [5, 6, 2], 3, 1, 'same', 'normal'),
  maxPoolCase('3x3 stride 1 same ties', [5, 6, 2], 3, 1, 'same', 'ties'),
  maxPoolCase('2x2 stride 3 valid (gaps)', [8, 7, 2], 2, 3, 'valid', 'ties'),
  maxPoolCase('3x3 stride 3 valid (unused rows) ties', [8, 7, 2], 3, 3, 'valid', 'ties'),
  maxPoolCase('2x2 valid ties, 5 channels', [6, 8, 5], 2, 2, 'valid', 'ties'),
  maxPoolCase('3x3 stride 2 same ties, 9 channels', [7, 8, 9], 3, 2, 'same', 'ties'),
  avgPoolCase('2x2 valid', [6, 8, 3], 2, 2, 'valid'),
  avgPoolCase('3x3 stride 2 valid (unused rows)', [8, 7, 2], 3, 2, 'valid'),
  avgPoolCase('2x2 same odd size', [7, 5, 2], 2, 2, 'same'),
  avgPoolCase('3x3 stride 2 same', [7, 8, 2], 3, 2, 'same'),
  avgPoolCase('3x3 stride 1 same', [5, 6, 2], 3, 1, 'same'),
  avgPoolCase('3x3 stride 3 valid (unused rows)', [8, 7, 2], 3, 3, 'valid'),
  avgPoolCase('3x3 stride 3 same', [8, 7, 2], 3, 3, 'same'),
  {
    name: 'flatten',
    batch: 3,
    build: () => new Flatten({ inputShape: [3, 4, 2] }),
    ref: (_layer, x) => tf.reshape(x, [x.shape[0], 24]),
  },
  {
    name: 'reshape flat -> image',
    batch: 3,
    build: () => new Reshape({ inputShape: [24], targetShape: [4, 3, 2] }),
    ref: (_layer, x) => tf.reshape(x, [x.shape[0], 4, 3, 2]),
  },
];

// ---------------------------------------------------------------------------------------------
// A small conv net: conv-bn-relu -> maxpool -> conv-relu -> avgpool -> flatten -> dense.

const NET_SPECS: LayerSpec[] = [
  { type: 'conv2d', filters: 4, kernelSize: 3, batchNorm: true, activation: 'relu' },
  { type: 'maxpool', poolSize: 2 },
  { type: 'conv2d', filters: 6, kernelSize: 3 },
  { type: 'avgpool', poolSize: 2 },
  { type: 'flatten' },
  { type: 'dense', units: 5, activation: 'linear' },
];
const NET_INPUT = [8, 8, 2];
const NET_BATCH = 6;

function buildNet(): Sequential {
  const { layers, outputShape: out } = buildLayers(NET_SPECS, NET_INPUT, (i) => seedrandom(`net/${i}`));
  assert.deepEqual(out, [5]);
  const net = new Sequential(layers);
  // random gamma, beta and biases (the same on every backend)
  const rng = seedrandom('net/params');
  const w = weightsNow(net);
  w[1] = randArray(w[1].length, rng, 0.5, 1); // gamma
  w[2] = randArray(w[2].length, rng, 0.5); // beta
  w[4] = randArray(w[4].length, rng, 0.5); // conv 2 bias
  w[6] = randArray(w[6].length, rng, 0.5); // dense bias
  net.setWeights(w);
  return net;
}

function netData() {
  const rng = seedrandom('net/data');
  return { x: randArray(NET_BATCH * size(NET_INPUT), rng), dy: randArray(NET_BATCH * 5, rng) };
}

/** Autodiff reference of the conv net (cpu): y, dx, grads of [W1, gamma, beta, W2, b2, W3, b3], running stats. */
function netReference(): { y: Values; dx: Values; grads: Values[]; state: Values[]; evalY: Values } {
  const net = buildNet();
  const d = netData();
  const out = tidy(() => {
    const x = tf.tensor(d.x, [NET_BATCH, ...NET_INPUT]);
    const dy = tf.tensor(d.dy, [NET_BATCH, 5]);
    let stats: tf.Tensor[] = [];
    const f = (xx: tf.Tensor, w1: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor, w3: tf.Tensor, b3: tf.Tensor) => {
      let h: tf.Tensor = tf.conv2d(xx as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'same');
      const { mean, variance } = tf.moments(h, [0, 1, 2]);
      stats = [mean, variance];
      h = tf.relu(tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-3))), gamma), beta));
      h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
      h = tf.relu(tf.add(tf.conv2d(h as tf.Tensor4D, w2 as tf.Tensor4D, 1, 'same'), b2));
      h = tf.avgPool(h as tf.Tensor4D, 2, 2, 'valid');
      return tf.add(tf.matMul(tf.reshape(h, [NET_BATCH, -1]), w3), b3);
    };
    const p = net.params;
    const y = f(x, p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
    const [batchMean, batchVar] = stats; // (those of the calls inside tf.grads are disposed)
    const g = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]), dy)))([x, ...p]);
    const [rm, rv] = net.state;
    const newMean = tf.add(tf.mul(rm, 0.99), tf.mul(batchMean, 0.01));
    const newVar = tf.add(tf.mul(rv, 0.99), tf.mul(batchVar, 0.01));
    // eval mode with the updated running statistics
    let e: tf.Tensor = tf.conv2d(x as tf.Tensor4D, p[0] as tf.Tensor4D, 1, 'same');
    e = tf.relu(tf.add(tf.mul(tf.div(tf.sub(e, newMean), tf.sqrt(tf.add(newVar, 1e-3))), p[1]), p[2]));
    e = tf.maxPool(e as tf.Tensor4D, 2, 2, 'valid');
    e = tf.relu(tf.add(tf.conv2d(e as tf.Tensor4D, p[3] as tf.Tensor4D, 1, 'same'), p[4]));
    e = tf.avgPool(e as tf.Tensor4D, 2, 2, 'valid');
    e = tf.add(tf.matMul(tf.reshape(e, [NET_BATCH, -1]), p[5]), p[6]);
    return { y: values(y), dx: values(g[0]), grads: g.slice(1).map(values), state: [values(newMean), values(newVar)], evalY: values(e) };
  });
  net.dispose();
  return out;
}

function checkNet(ref: ReturnType<typeof netReference>): void {
  const what = `conv net on ${tf.getBackend()}`;
  const net = buildNet();
  assert.deepEqual(
    net.layers.map((l) => l.name),
    [
      'conv2d(3x3, 8x8x2->8x8x4)',
      'batchnorm(8x8x4)',
      'maxpool(2x2, 8x8x4->4x4x4)',
      'conv2d(3x3, 4x4x4->4x4x6)',
      'avgpool(2x2, 4x4x6->2x2x6)',
      'flatten(2x2x6->24)',
      'dense(24->5)',
    ],
  );
  const d = netData();
  // the stage receives flat activations: [batch, 128]
  const x = tf.tensor2d(d.x, [NET_BATCH, size(NET_INPUT)]);
  const dy = tf.tensor2d(d.dy, [NET_BATCH, 5]);
  const count = tf.memory().numTensors;
  const nParams = net.params.length;
  for (let round = 0; round < 2; round++) {
    if (round === 1) {
      // back to the initial running statistics (mean 0, variance 1): the same results again
      const w = weightsNow(net);
      w[nParams] = new Float32Array(w[nParams].length);
      w[nParams + 1] = new Float32Array(w[nParams + 1].length).fill(1);
      net.setWeights(w);
    }
    const { y, trace } = net.forward(x, true);
    const { dx, grads } = net.backward(trace, dy, true);
    assert.deepEqual(dx!.shape, [NET_BATCH, ...NET_INPUT]);
    assertClose(y, ref.y, `${what} y`);
    assertClose(dx!, ref.dx, `${what} dx`);
    ['W1', 'gamma', 'beta', 'W2', 'b2', 'W3', 'b3'].forEach((name, i) => assertClose(grads[i], ref.grads[i], `${what} d${name}`));
    net.state.forEach((v, i) => assertClose(v, ref.state[i], `${what} running statistic ${i}`));
    const evalOut = net.forward(x, false);
    assertClose(evalOut.y, ref.evalY, `${what} eval y`);
    tf.dispose([y, dx!, evalOut.y, ...grads]);
    tf.dispose(trace);
    assert.equal(tf.memory().numTensors, count, `${what}: tensor leak (round ${round})`);
  }
  tf.dispose([x, dy]);
  net.dispose();
}

describe('conv layers (cpu, against tfjs autodiff)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      await tf.setBackend('cpu');
      checkLayer(c, reference(c));
    });
  }
});

describe('conv layers on wasm give the cpu gradients', () => {
  after(async () => {
    await tf.setBackend('cpu');
  });

  it('every layer case', async () => {
    await tf.setBackend('cpu');
    const refs = CASES.map((c) => reference(c));
    await tf.setBackend('wasm');
    assert.equal(tf.getBackend(), 'wasm');
    CASES.forEach((c, i) => checkLayer(c, refs[i]));
  });

  it('a batch whose window matrix exceeds 2^24 values takes the filter gradient in runs of examples, summed', async () => {
    await tf.setBackend('wasm');
    const rng = seedrandom('runs');
    // 5x5 windows of 16 channels on 14x14: 78400 values per example, so 260 examples are runs of 213
    // and 47 (6 filters: not in fours, so not the direct sum of the filter gradient)
    const layer = new Conv2D({ inputShape: [14, 14, 16], filters: 6, kernelSize: 5, useBias: false, activation: 'linear', init: glorotUniformConv(5, 16, 6, rng) });
    const batch = 260;
    const x = tf.tensor4d(randArray(batch * 14 * 14 * 16, rng), [batch, 14, 14, 16]);
    const dy = tf.tensor4d(randArray(batch * 14 * 14 * 6, rng), [batch, 14, 14, 6]);
    const { y, trace } = layer.forward(x, true);
    const { grads } = layer.backward(trace, dy, false);
    const whole = tf.tidy(() => {
      const cols = ops().im2colT!(x, 5, 1, 2, 2, 14, 14)!;
      assert.ok(cols.size > 2 ** 24);
      return tf.reshape(tf.matMul(cols, tf.reshape(dy, [batch * 14 * 14, 6])), [5, 5, 16, 6]);
    });
    // sums of 50960 products in float32, in another order: within 1e-5 of the largest value
    const [a, e] = [grads[0].dataSync(), whole.dataSync()];
    const scale = Math.max(...e.map(Math.abs));
    const worst = Math.max(...a.map((v, i) => Math.abs(v - e[i])));
    assert.deepEqual(grads[0].shape, whole.shape);
    assert.ok(worst <= 1e-5 * scale, `dW in runs against one matMul: differs by ${worst}, largest value ${scale}`);
    tf.dispose([x, dy, y, ...trace, ...grads, whole]);
    disposeLayer(layer);
  });

  it('a small conv net through Sequential (flat input, as a stage receives it)', async () => {
    await tf.setBackend('cpu');
    const ref = netReference();
    checkNet(ref); // cpu too
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    checkNet(ref);
    assert.equal(tf.memory().numTensors, before, 'conv net: tensor leak');
  });
});

describe('conv specs, shapes and errors', () => {
  after(async () => {
    await tf.setBackend('cpu');
  });

  it('output shapes follow TensorFlow (same: ceil(n / s), valid: floor((n - k) / s) + 1)', () => {
    assert.deepEqual(conv2dOutputShape([28, 28, 1], 32, 5), [28, 28, 32]);
    assert.deepEqual(conv2dOutputShape([28, 28, 1], 32, 5, 2), [14, 14, 32]);
    assert.deepEqual(conv2dOutputShape([28, 27, 1], 8, 5, 1, 'valid'), [24, 23, 8]);
    assert.deepEqual(pool2dOutputShape([28, 28, 32], 2), [14, 14, 32]);
    assert.deepEqual(pool2dOutputShape([7, 7, 3], 2), [3, 3, 3]);
    assert.deepEqual(pool2dOutputShape([7, 7, 3], 2, 2, 'same'), [4, 4, 3]);
    assert.deepEqual(pool2dOutputShape([7, 7, 3], 3, 1, 'same'), [7, 7, 3]);
    assert.deepEqual(axisPadding(7, 2, 2, 'same'), { out: 4, before: 0, after: 1 });
    assert.deepEqual(axisPadding(8, 4, 2, 'same'), { out: 4, before: 1, after: 1 });
    assert.deepEqual(axisPadding(5, 5, 1, 'same'), { out: 5, before: 2, after: 2 });
    const specs: LayerSpec[] = [
      { type: 'conv2d', filters: 32, kernelSize: 5 },
      { type: 'maxpool', poolSize: 2 },
      { type: 'conv2d', filters: 64, kernelSize: 5, stride: 2, padding: 'valid' },
      { type: 'flatten' },
      { type: 'dense', units: 10 },
    ];
    assert.deepEqual(outputShape(specs[0], [28, 28, 1]), [28, 28, 32]);
    assert.equal(outputUnits(specs[0], [28, 28, 1]), 28 * 28 * 32);
    assert.deepEqual(outputShape(specs[2], [14, 14, 32]), [5, 5, 64]);
    assert.deepEqual(outputShape({ type: 'flatten' }, [5, 5, 64]), [1600]);
    assert.deepEqual(outputShapeOf(specs.slice(0, 4), [28, 28, 1]), [1600]);
    assert.deepEqual(outputShapeOf(specs, [28, 28, 1]), [10]);
    assert.equal(outputUnits({ type: 'dense', units: 7 }), 7);
    assert.throws(() => outputShape(specs[0]), /needs the input shape/);
    assert.throws(() => outputShape(specs[0], 784), /\[height, width, channels\].*784 flat units/);
  });

  it('buildLayer and buildLayers: conv2d (+ batch norm), pools, flatten; names, init and shapes', async () => {
    await tf.setBackend('cpu');
    const conv = buildLayer({ type: 'conv2d', filters: 8, kernelSize: 3, batchNorm: true }, [10, 10, 3], seedrandom('k'), { name: 'layer0' });
    assert.equal(conv.length, 2);
    const [c, bn] = conv as [Conv2D, BatchNorm];
    assert.ok(c instanceof Conv2D && bn instanceof BatchNorm);
    assert.deepEqual([c.name, bn.name], ['layer0', 'layer0/batchnorm']);
    assert.deepEqual([c.activation, c.useBias, bn.activation], ['linear', false, 'relu']);
    assert.deepEqual([c.inputShape, c.outputShape, bn.inputShape, bn.outputShape], [[10, 10, 3], [10, 10, 8], [10, 10, 8], [10, 10, 8]]);
    assert.deepEqual([c.inputUnits, c.outputUnits, bn.units], [300, 800, 8]);
    assert.deepEqual(c.kernel.shape, [3, 3, 3, 8]);
    assert.deepEqual(c.kernel.dataSync(), glorotUniformConv(3, 3, 8, seedrandom('k')));
    const limit = Math.sqrt(6 / (9 * (3 + 8)));
    assert.ok(Array.from(c.kernel.dataSync()).every((v) => Math.abs(v) <= limit));

    const plain = buildLayer({ type: 'conv2d', filters: 2, kernelSize: 5, stride: 2, activation: 'linear' }, [9, 9, 1], seedrandom('z'), { zeroInit: true });
    const p = plain[0] as Conv2D;
    assert.equal(plain.length, 1);
    assert.deepEqual([p.useBias, p.activation, p.stride, p.padding, p.name], [true, 'linear', 2, 'same', 'conv2d(5x5/2, 9x9x1->5x5x2)']);
    assert.ok(Array.from(p.kernel.dataSync()).every((v) => v === 0));

    const pools = [
      ...buildLayer({ type: 'maxpool', poolSize: 2 }, [9, 9, 2], seedrandom('p')),
      ...buildLayer({ type: 'avgpool', poolSize: 3, stride: 1, padding: 'same' }, [9, 9, 2], seedrandom('p')),
      ...buildLayer({ type: 'flatten' }, [4, 4, 2], seedrandom('p')),
    ];
    assert.ok(pools[0] instanceof MaxPool2D && pools[1] instanceof AvgPool2D && pools[2] instanceof Flatten);
    assert.deepEqual(pools.map((l) => l.name), ['maxpool(2x2, 9x9x2->4x4x2)', 'avgpool(3x3/1 same, 9x9x2->9x9x2)', 'flatten(4x4x2->32)']);
    assert.ok(pools.every((l) => l.params.length === 0 && l.state.length === 0));

    // buildLayers: spec i draws from rngFor(i), exactly as buildLayer spec by spec
    const specs: LayerSpec[] = [
      { type: 'conv2d', filters: 4, kernelSize: 3, batchNorm: true },
      { type: 'maxpool', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 3, activation: 'linear' },
    ];
    const built = buildLayers(specs, [6, 6, 2], (i) => seedrandom(`s${i}`), { name: (i) => `layer${i}` });
    assert.deepEqual(built.outputShape, [3]);
    assert.deepEqual(built.layers.map((l) => l.name), ['layer0', 'layer0/batchnorm', 'layer1', 'layer2', 'layer3']);
    assert.deepEqual((built.layers[0] as Conv2D).kernel.dataSync(), glorotUniformConv(3, 2, 4, seedrandom('s0')));
    const dense = built.layers[4] as Dense;
    assert.equal(dense.inputUnits, 36);
    const one = buildLayer(specs[3], 36, seedrandom('s3'));
    assert.deepEqual(dense.kernel.dataSync(), (one[0] as Dense).kernel.dataSync());
    const net = new Sequential(built.layers);
    assert.deepEqual([net.inputShape, net.outputShape, net.inputUnits, net.outputUnits], [[6, 6, 2], [3], 72, 3]);
    net.dispose();
    tf.dispose([...conv, ...plain, ...one].flatMap((l) => [...l.params, ...l.state]));
  });

  it('errors name the layer and the shape', async () => {
    await tf.setBackend('cpu');
    const rng = seedrandom('e');
    assert.throws(() => buildLayer({ type: 'conv2d', filters: 4, kernelSize: 3 }, 784, rng), /conv2d layer needs an input of shape \[height, width, channels\], got \[784\]/);
    assert.throws(() => buildLayer({ type: 'dense', units: 4 }, [7, 7, 2], rng), /dense layer needs a flat input.*flatten/);
    assert.throws(() => buildLayer({ type: 'maxpool', poolSize: 3 }, [2, 2, 1], rng), /3-wide window with 'valid' padding does not fit in 2/);
    assert.throws(() => buildLayer({ type: 'conv2d', filters: 0, kernelSize: 3 }, [4, 4, 1], rng), /filters must be a positive integer/);
    assert.throws(
      () => buildLayer({ type: 'avgpool', poolSize: 2, padding: 'full' as Padding }, [4, 4, 1], rng),
      /unknown padding 'full'/,
    );
    assert.throws(() => buildLayer({ type: 'gru' } as unknown as LayerSpec, 4, rng), /unknown layer type 'gru'/);
    assert.throws(() => new Reshape({ inputShape: [4, 4], targetShape: [15] }), /cannot reshape \[4, 4\] \(16 values\) to \[15\]/);
    assert.throws(() => new Conv2D({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, useBias: true, activation: 'relu', init: new Float32Array(5) }), /init has 5 values, expected 18/);

    // consecutive layers must agree on the shape (not just the size)
    const pool = new MaxPool2D({ inputShape: [4, 8, 2], poolSize: 2 });
    const other = new AvgPool2D({ inputShape: [8, 4, 2], poolSize: 2 });
    assert.throws(() => new Sequential([new Flatten({ inputShape: [4, 4, 2] }), pool]), /outputs 32 units but maxpool/);
    const conv = new Conv2D({ inputShape: [8, 4, 2], filters: 2, kernelSize: 1, useBias: false, activation: 'linear', init: 'zeros' });
    assert.throws(() => new Sequential([conv, pool]), /outputs shape \[8, 4, 2\] but maxpool\(2x2, 4x8x2->2x4x2\) expects \[4, 8, 2\]/);
    new Sequential([conv, other]); // fine
    // a flat layer before an image layer is fine (the image layer takes flat inputs)
    new Sequential([new Flatten({ inputShape: [4, 8, 2] }), pool]);

    const x = tf.ones([2, 4, 4, 2]);
    assert.throws(() => conv.forward(x, true), /conv2d\(1x1, 8x4x2->8x4x2\) forward x: expected a tensor of shape \[batch, 8, 4, 2\] or \[batch, 64\], got \[2, 4, 4, 2\]/);
    const good = tf.ones([2, 8, 4, 2]);
    const evalOut = conv.forward(good, false);
    assert.throws(() => conv.backward(evalOut.trace, evalOut.y, true), /trace of a training-mode forward/);
    const train = pool.forward(tf.ones([3, 4, 8, 2]), true);
    assert.throws(() => pool.backward(train.trace, tf.ones([2, 2, 4, 2]), true), /backward dy: expected a tensor of shape \[3, 2, 4, 2\] or \[3, 16\], got \[2, 2, 4, 2\]/);
    tf.dispose([x, good, evalOut.y, train.y, ...train.trace, ...conv.params]);
  });
});

describe('conv timing (wasm)', () => {
  after(async () => {
    await tf.setBackend('cpu');
  });

  it('conv 5x5, 32 filters, batch 64: forward + backward on 28x28x1 and 14x14x32 (printed, not asserted)', async () => {
    await tf.setBackend('wasm');
    const rng = seedrandom('timing');
    for (const inputShape of [[28, 28, 1], [14, 14, 32]]) {
      const layer = new Conv2D({
        inputShape,
        filters: 32,
        kernelSize: 5,
        useBias: true,
        activation: 'relu',
        init: glorotUniformConv(5, inputShape[2], 32, rng),
      });
      const x = tf.tensor(randArray(64 * size(inputShape), rng), [64, ...inputShape]);
      const dy = tf.tensor(randArray(64 * layer.outputUnits, rng), [64, ...layer.outputShape]);
      const count = tf.memory().numTensors;
      // wasm runs kernels synchronously, so the clock sees the compute (results are not read back:
      // reading 1.6M floats out of the wasm heap alone takes ~15 ms)
      const step = (needInputGrad: boolean) => {
        const t0 = performance.now();
        const { y, trace } = layer.forward(x, true);
        const t1 = performance.now();
        const { dx, grads } = layer.backward(trace, dy, needInputGrad);
        const t2 = performance.now();
        tf.dispose([y, ...trace, ...grads, ...(dx ? [dx] : [])]);
        return [t1 - t0, t2 - t1];
      };
      step(true); // warm-up
      const reps = 10;
      let fwd = 0;
      let bwd = 0;
      let bwdNoDx = 0;
      for (let r = 0; r < reps; r++) {
        const [f, b] = step(true);
        fwd += f / reps;
        bwd += b / reps;
        bwdNoDx += step(false)[1] / reps;
      }
      assert.equal(tf.memory().numTensors, count, 'timing: tensor leak');
      console.log(
        `conv 5x5x${inputShape[2]}->32 on ${inputShape.join('x')}, batch 64, wasm: forward ${fwd.toFixed(1)} ms, ` +
          `backward ${bwd.toFixed(1)} ms (dW, db, dx; ${bwdNoDx.toFixed(1)} ms without dx), total ${(fwd + bwd).toFixed(1)} ms`,
      );
      tf.dispose([x, dy, ...layer.params]);
    }
  });
});
