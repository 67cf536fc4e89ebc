import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs-core';
// the reference is tfjs's own autodiff: the full tfjs package registers every op's gradient (synthgrad
// itself loads tfjs-core alone and writes its backward passes out)
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { weightsNow } from './helpers/weights-now.js';
import {
  BatchNorm,
  Dense,
  LEAKY_RELU_SLOPE,
  type DenseActivation,
  Sequential,
  buildLayer,
  glorotUniform,
  heUniform,
  outputUnits,
  type Layer,
} from '../src/model/index.js';

const TOL = 1e-5;

function randArray(n: number, rng: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * rng() - 1) * scale);
}

function randMatrix(rows: number, cols: number, rng: () => number, scale = 1): tf.Tensor2D {
  return tf.tensor2d(randArray(rows * cols, rng, scale), [rows, cols]);
}

function assertClose(actual: tf.Tensor, expected: tf.Tensor, what: string, tol = TOL): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]));
  assert.ok(worst <= tol, `${what}: max abs diff ${worst} > ${tol}`);
}

type Act = 'relu' | 'linear';
const act = (z: tf.Tensor, a: Act) => (a === 'relu' ? tf.relu(z) : z);
const denseAct = (z: tf.Tensor, a: DenseActivation) => (a === 'leaky-relu' ? tf.leakyRelu(z, LEAKY_RELU_SLOPE) : a === 'tanh' ? tf.tanh(z) : act(z, a));

/** Reference batch norm in training mode from plain tf ops (autodiff-able). */
function bnTrainRef(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-3): tf.Tensor {
  const { mean, variance } = tf.moments(x, 0);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

/**
 * Sizes [in, out, rows]: the small default, and WIDE, wider than the batch both ways, where the
 * wasm backend takes x W as (Wᵀ xᵀ)ᵀ in training and dz Wᵀ as (W dzᵀ)ᵀ (dense.ts packsLess).
 */
const WIDE: [number, number, number] = [40, 48, 8];

function checkDense(rng: () => number, useBias: boolean, activation: DenseActivation, sizes: [number, number, number] = [7, 5, 8]): void {
  const [inU, outU, rows] = sizes;
  const layer = new Dense({ inputUnits: inU, units: outU, useBias, activation, init: glorotUniform(inU, outU, rng) });
  if (layer.bias) tf.tidy(() => layer.bias!.assign(tf.tensor1d(randArray(outU, rng, 0.3))));
  const x = randMatrix(rows, inU, rng);
  const dy = randMatrix(rows, outU, rng);
  const what = `dense ${inU}->${outU} (bias=${useBias}, ${activation}) on ${rows} rows`;

  const count = tf.memory().numTensors;
  const { y, trace } = layer.forward(x, true);
  const { dx, grads } = layer.backward(trace, dy as tf.Tensor2D, true);
  assert.equal(grads.length, layer.params.length);
  assert.ok(dx);

  tf.tidy(() => {
    const f = (xx: tf.Tensor, w: tf.Tensor, b?: tf.Tensor) => denseAct(b ? tf.add(tf.matMul(xx, w), b) : tf.matMul(xx, w), activation);
    const args = [x, layer.kernel, ...(layer.bias ? [layer.bias] : [])];
    assertClose(y, f(x, layer.kernel, layer.bias ?? undefined), `${what} y`);
    const ref = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(a[0], a[1], a[2]), dy)))(args);
    assertClose(dx, ref[0], `${what} dx`);
    assertClose(grads[0], ref[1], `${what} dW`);
    if (useBias) assertClose(grads[1], ref[2], `${what} db`);
  });

  // without the input gradient: same grads, dx null
  const b2 = layer.backward(trace, dy, false);
  assert.equal(b2.dx, null);
  b2.grads.forEach((g, i) => assertClose(g, grads[i], `${what} grads without dx`, 0));

  // eval mode: no trace, same output (the same product, or to rounding where training took it transposed)
  const evalOut = layer.forward(x, false);
  assert.equal(evalOut.trace.length, 0);
  assertClose(evalOut.y, y, `${what} eval y`, sizes === WIDE ? undefined : 0);

  tf.dispose([y, dx, evalOut.y, ...grads, ...b2.grads]);
  tf.dispose(trace);
  assert.equal(tf.memory().numTensors, count, `${what}: tensor leak`);
  tf.dispose([x, dy, ...layer.params]);
}

function checkBatchNorm(rng: () => number, activation: Act): void {
  const [units, rows] = [6, 10];
  const layer = new BatchNorm({ units, activation });
  const what = `batchnorm(${activation})`;
  // random gamma/beta and running statistics so that every term matters
  const rm0 = randArray(units, rng);
  const rv0 = Float32Array.from(randArray(units, rng), (v) => 0.5 + Math.abs(v));
  tf.tidy(() => {
    layer.gamma.assign(tf.tensor1d(randArray(units, rng, 1.5)));
    layer.beta.assign(tf.tensor1d(randArray(units, rng, 0.5)));
    layer.movingMean.assign(tf.tensor1d(rm0));
    layer.movingVariance.assign(tf.tensor1d(rv0));
  });
  const x = tf.tidy(() => tf.add(randMatrix(rows, units, rng, 2), tf.tensor1d(randArray(units, rng)))) as tf.Tensor2D;
  const dy = randMatrix(rows, units, rng);

  const count = tf.memory().numTensors;
  const { y, trace } = layer.forward(x, true);
  const { dx, grads } = layer.backward(trace, dy, true);
  assert.ok(dx);
  assert.equal(grads.length, 2);

  tf.tidy(() => {
    const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => act(bnTrainRef(xx, g, b), activation);
    assertClose(y, f(x, layer.gamma, layer.beta), `${what} y`);
    const ref = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b), dy)))([x, layer.gamma, layer.beta]);
    assertClose(dx, ref[0], `${what} dx`);
    assertClose(grads[0], ref[1], `${what} dgamma`);
    assertClose(grads[1], ref[2], `${what} dbeta`);
    // running statistics: 0.99 * old + 0.01 * batch (biased variance)
    const { mean, variance } = tf.moments(x, 0);
    assertClose(layer.movingMean, tf.add(tf.mul(tf.tensor1d(rm0), 0.99), tf.mul(mean, 0.01)), `${what} running mean`, 1e-6);
    assertClose(layer.movingVariance, tf.add(tf.mul(tf.tensor1d(rv0), 0.99), tf.mul(variance, 0.01)), `${what} running var`, 1e-6);
  });

  // eval mode: running statistics, no trace, no state change
  const stateBefore = layer.state.map((v) => v.dataSync().slice());
  const evalOut = layer.forward(x, false);
  assert.equal(evalOut.trace.length, 0);
  tf.tidy(() => {
    const z = tf.add(
      tf.mul(tf.div(tf.sub(x, layer.movingMean), tf.sqrt(tf.add(layer.movingVariance, 1e-3))), layer.gamma),
      layer.beta,
    );
    assertClose(evalOut.y, act(z, activation), `${what} eval y`);
  });
  layer.state.forEach((v, i) => assert.deepEqual(v.dataSync(), stateBefore[i], `${what}: eval changed state`));

  tf.dispose([y, dx, evalOut.y, ...grads]);
  tf.dispose(trace);
  assert.equal(tf.memory().numTensors, count, `${what}: tensor leak`);
  tf.dispose([x, dy, ...layer.params, ...layer.state]);
}

/** dense(5->6, BN, relu) -> dense(6->3, linear): gradients of all params and the input vs autodiff. */
function checkSequential(rng: () => number): void {
  const [inU, hidden, outU, rows] = [5, 6, 3, 9];
  const layers = [
    ...buildLayer({ type: 'dense', units: hidden, batchNorm: true }, inU, rng),
    ...buildLayer({ type: 'dense', units: outU, activation: 'linear' }, hidden, rng),
  ];
  const net = new Sequential(layers);
  assert.deepEqual(
    layers.map((l) => l.name),
    ['dense(5->6)', 'batchnorm(6)', 'dense(6->3)'],
  );
  assert.equal(net.params.length, 5); // W1, gamma, beta, W2, b2
  assert.equal(net.state.length, 2);
  // random gamma, beta, b2 through setWeights
  const w = weightsNow(net);
  w[1] = Float32Array.from(randArray(hidden, rng), (v) => 1 + v * 0.5);
  w[2] = randArray(hidden, rng, 0.5);
  w[4] = randArray(outU, rng, 0.5);
  net.setWeights(w);
  weightsNow(net).forEach((v, i) => assert.deepEqual(v, w[i], `setWeights/getWeights roundtrip ${i}`));

  const x = randMatrix(rows, inU, rng);
  const dy = randMatrix(rows, outU, rng);
  const count = tf.memory().numTensors;
  const { y, trace } = net.forward(x, true);
  assert.equal(trace.length, 3);
  const { dx, grads } = net.backward(trace, dy, true);
  assert.ok(dx);
  assert.equal(grads.length, 5);

  const [w1, gamma, beta, w2, b2] = net.params;
  tf.tidy(() => {
    const f = (xx: tf.Tensor, a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
      tf.add(tf.matMul(tf.relu(bnTrainRef(tf.matMul(xx, a), g, b)), c), d);
    assertClose(y, f(x, w1, gamma, beta, w2, b2), 'sequential y');
    const ref = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(a[0], a[1], a[2], a[3], a[4], a[5]), dy)))([
      x, w1, gamma, beta, w2, b2,
    ]);
    assertClose(dx, ref[0], 'sequential dx');
    ['W1', 'gamma', 'beta', 'W2', 'b2'].forEach((name, i) => assertClose(grads[i], ref[i + 1], `sequential d${name}`));
  });

  const noDx = net.backward(trace, dy, false);
  assert.equal(noDx.dx, null);
  noDx.grads.forEach((g, i) => assertClose(g, grads[i], `sequential grads without dx ${i}`, 0));

  const evalOut = net.forward(x, false);
  assert.equal(evalOut.trace.length, 3);
  assert.ok(evalOut.trace.every((t) => t.length === 0));
  tf.tidy(() => {
    const [rm, rv] = net.state;
    const h = tf.relu(tf.add(tf.mul(tf.div(tf.sub(tf.matMul(x, w1), rm), tf.sqrt(tf.add(rv, 1e-3))), gamma), beta));
    assertClose(evalOut.y, tf.add(tf.matMul(h, w2), b2), 'sequential eval y');
  });

  tf.dispose([y, dx, evalOut.y, ...grads, ...noDx.grads]);
  tf.dispose(trace);
  assert.equal(tf.memory().numTensors, count, 'sequential: tensor leak');
  tf.dispose([x, dy]);
  const vars = tf.memory().numTensors;
  net.dispose();
  assert.equal(tf.memory().numTensors, vars - 7);
}

function runAll(seed: string): void {
  const rng = seedrandom(seed);
  checkDense(rng, true, 'relu');
  checkDense(rng, false, 'relu');
  checkDense(rng, true, 'linear');
  checkDense(rng, false, 'linear');
  checkDense(rng, true, 'relu', WIDE);
  checkDense(rng, false, 'linear', WIDE);
  checkDense(rng, true, 'leaky-relu');
  checkDense(rng, true, 'tanh');
  checkDense(rng, true, 'leaky-relu', WIDE);
  checkDense(rng, false, 'tanh', WIDE);
  checkBatchNorm(rng, 'relu');
  checkBatchNorm(rng, 'linear');
  checkSequential(rng);
}

describe('layers (cpu)', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('Dense relu/leaky-relu/tanh/linear with/without bias matches autodiff', () => {
    const rng = seedrandom('dense');
    for (const bias of [true, false]) for (const a of ['relu', 'leaky-relu', 'tanh', 'linear'] as const) checkDense(rng, bias, a);
  });

  it('BatchNorm (relu and linear) matches autodiff, updates running stats, eval uses them', () => {
    const rng = seedrandom('bn');
    checkBatchNorm(rng, 'relu');
    checkBatchNorm(rng, 'linear');
  });

  it('Sequential dense->BN->relu->dense matches autodiff for all params and the input', () => {
    checkSequential(seedrandom('seq'));
  });

  it('Dense with zeros init and a stale kernel: backward uses the kernel of the forward pass', () => {
    const layer = new Dense({ inputUnits: 3, units: 2, useBias: true, activation: 'linear', init: 'zeros' });
    assert.deepEqual(Array.from(layer.kernel.dataSync()), [0, 0, 0, 0, 0, 0]);
    const x = tf.ones([4, 3]) as tf.Tensor2D;
    const dy = tf.ones([4, 2]) as tf.Tensor2D;
    const { y, trace } = layer.forward(x, true);
    tf.tidy(() => layer.kernel.assign(tf.onesLike(layer.kernel)));
    const { dx, grads } = layer.backward(trace, dy, true);
    assert.deepEqual(Array.from(dx!.dataSync()), new Array(12).fill(0));
    assert.deepEqual(Array.from(grads[0].dataSync()), new Array(6).fill(4));
    assert.deepEqual(Array.from(grads[1].dataSync()), [4, 4]);
    tf.dispose([x, dy, y, dx!, ...grads, ...trace, ...layer.params]);
  });

  it('backward without a training trace throws', () => {
    const layer = new Dense({ inputUnits: 2, units: 2, useBias: false, activation: 'relu', init: 'zeros' });
    const x = tf.ones([1, 2]) as tf.Tensor2D;
    const { y, trace } = layer.forward(x, false);
    assert.throws(() => layer.backward(trace, x, true), /trace of a training-mode forward/);
    assert.throws(() => layer.forward(tf.ones([1, 3]) as tf.Tensor2D, true), /expected a tensor of shape/);
    tf.dispose([x, y, ...layer.params]);
  });

  it('buildLayer, outputUnits, initializers', () => {
    const rng = seedrandom('build');
    const plain = buildLayer({ type: 'dense', units: 4 }, 3, rng) as Layer[];
    assert.equal(plain.length, 1);
    const d = plain[0] as Dense;
    assert.ok(d instanceof Dense);
    assert.equal(d.activation, 'relu');
    assert.ok(d.useBias);
    assert.equal(d.name, 'dense(3->4)');
    const bn = buildLayer({ type: 'dense', units: 4, batchNorm: true, activation: 'linear' }, 3, rng, { name: 'layer2' });
    assert.equal(bn.length, 2);
    assert.ok(bn[0] instanceof Dense && bn[1] instanceof BatchNorm);
    assert.equal((bn[0] as Dense).activation, 'linear');
    assert.equal((bn[0] as Dense).useBias, false);
    assert.equal((bn[1] as BatchNorm).activation, 'linear');
    assert.deepEqual(bn.map((l) => l.name), ['layer2', 'layer2/batchnorm']);
    assert.throws(() => buildLayer({ type: 'dense', units: 4, batchNorm: true, activation: 'tanh' }, 3, rng), /batch-normalised dense layer takes activation 'relu' or 'linear', got 'tanh'/);
    const zero = buildLayer({ type: 'dense', units: 2, activation: 'linear' }, 3, rng, { zeroInit: true });
    assert.ok(Array.from((zero[0] as Dense).kernel.dataSync()).every((v) => v === 0));
    assert.equal(outputUnits({ type: 'dense', units: 7 }), 7);
    assert.throws(() => new Sequential([...plain, ...zero]), /outputs 4 units/);

    const a = glorotUniform(30, 20, seedrandom('g'));
    assert.equal(a.length, 600);
    const limit = Math.sqrt(6 / 50);
    assert.ok(a.every((v) => Math.abs(v) <= limit) && Math.max(...a.map(Math.abs)) > 0.9 * limit);
    assert.deepEqual(a, glorotUniform(30, 20, seedrandom('g')));
    const h = heUniform(30, 20, seedrandom('h'));
    assert.ok(h.every((v) => Math.abs(v) <= Math.sqrt(6 / 30)) && Math.max(...h.map(Math.abs)) > 0.9 * Math.sqrt(6 / 30));
    tf.dispose([...plain, ...bn, ...zero].flatMap((l) => [...l.params, ...l.state]));
  });
});

describe('layers (wasm)', () => {
  after(async () => {
    await tf.setBackend('cpu');
  });

  it('Dense, BatchNorm and Sequential match autodiff on the wasm backend', async () => {
    await tf.setBackend('wasm');
    assert.equal(tf.getBackend(), 'wasm');
    runAll('wasm');
  });
});
