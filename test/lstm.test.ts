import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
// the reference is tfjs's own autodiff of the unrolled window (the full package registers the gradients)
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Lstm, disposeState, disposeWindowTrace } from '../src/model/lstm.js';
import { stream } from '../src/stage/rng.js';

/** Largest |a - e| allowed, relative to max(1, |e|): float32 through 5 steps of sigmoid/tanh. */
const TOL = 2e-5;

function rand(shape: number[], rng: () => number, scale = 1): tf.Tensor2D {
  const n = shape.reduce((a, b) => a * b, 1);
  const t: tf.Tensor = tf.tensor(Float32Array.from({ length: n }, () => (2 * rng() - 1) * scale), shape);
  return t as tf.Tensor2D;
}

function assertClose(actual: tf.Tensor, expected: tf.Tensor, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]) / Math.max(1, Math.abs(e[i])));
  assert.ok(worst <= TOL, `${what}: max relative diff ${worst} > ${TOL}`);
}

/** The same LSTM written as plain tfjs ops, for autodiff. Returns [hs time-major, h_T, c_T]. */
function unrolled(x: tf.Tensor2D, h0: tf.Tensor2D, c0: tf.Tensor2D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D, steps: number, carry?: tf.Tensor2D): tf.Tensor2D[] {
  const batch = h0.shape[0];
  let h = h0;
  let c = c0;
  const hs: tf.Tensor2D[] = [];
  for (let t = 0; t < steps; t++) {
    if (carry) {
      h = tf.mul(h, tf.slice(carry, [t * batch, 0], [batch, 1]));
      c = tf.mul(c, tf.slice(carry, [t * batch, 0], [batch, 1]));
    }
    const z = tf.add(tf.add(tf.matMul(tf.slice(x, [t * batch, 0], [batch, x.shape[1]]), wx), tf.matMul(h, wh)), b);
    const [zi, zf, zo, zg] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zg))) as tf.Tensor2D;
    h = tf.mul(tf.sigmoid(zo), tf.tanh(c)) as tf.Tensor2D;
    hs.push(h);
  }
  return [tf.concat(hs, 0) as tf.Tensor2D, h, c];
}

/** The window's forward and backward against tfjs autodiff of the unrolled window, on the current backend. */
function checkAgainstAutodiff(): void {
  const rng = stream(7, 'test', 'lstm');
  const [batch, inputs, units, steps] = [3, 4, 5, 5];
  const lstm = new Lstm({ inputUnits: inputs, units, rng, forgetBias: 0.5 });
  // a non-zero bias everywhere so every gate's bias gradient is exercised
  lstm.bias.assign(rand([4 * units], rng, 0.5) as unknown as tf.Tensor1D);
  const x = rand([steps * batch, inputs], rng);
  const h0 = rand([batch, units], rng);
  const c0 = rand([batch, units], rng);
  const dhs = rand([steps * batch, units], rng);
  const dh = rand([batch, units], rng);
  const dc = rand([batch, units], rng);

  const fwd = lstm.forward(x, { h: h0, c: c0 }, steps, true);
  const bwd = lstm.backward(fwd.trace!, dhs, { h: dh, c: dc }, true);

  const loss = (xx: tf.Tensor, hh: tf.Tensor, cc: tf.Tensor, wx: tf.Tensor, wh: tf.Tensor, bb: tf.Tensor) => {
    const [hs, hT, cT] = unrolled(xx as tf.Tensor2D, hh as tf.Tensor2D, cc as tf.Tensor2D, wx as tf.Tensor2D, wh as tf.Tensor2D, bb as tf.Tensor1D, steps);
    return tf.addN([tf.sum(tf.mul(hs, dhs)), tf.sum(tf.mul(hT, dh)), tf.sum(tf.mul(cT, dc))]) as tf.Scalar;
  };
  const expected = tf.grads(loss)([x, h0, c0, lstm.kernel, lstm.recurrent, lstm.bias]);
  const [hsRef, hRef, cRef] = unrolled(x, h0, c0, lstm.kernel, lstm.recurrent, lstm.bias, steps);
  assertClose(fwd.hs, hsRef, 'hs');
  assertClose(fwd.state.h, hRef, 'h_T');
  assertClose(fwd.state.c, cRef, 'c_T');
  assertClose(bwd.dx!, expected[0], 'dx');
  assertClose(bwd.dState.h, expected[1], 'dh_0');
  assertClose(bwd.dState.c, expected[2], 'dc_0');
  assertClose(bwd.grads[0], expected[3], 'dWx');
  assertClose(bwd.grads[1], expected[4], 'dWh');
  assertClose(bwd.grads[2], expected[5], 'db');
  disposeWindowTrace(fwd.trace);
  lstm.dispose();
}

describe('Lstm', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });
  after(() => tf.disposeVariables());

  it('backward through time matches cpu autodiff of the unrolled window (x, h_0, c_0, kernels, bias)', () => {
    checkAgainstAutodiff();
  });

  it('without a final gradient (a cut) matches autodiff of the outputs alone', () => {
    const rng = stream(8, 'test', 'lstm');
    const [batch, units, steps] = [2, 3, 3];
    const lstm = new Lstm({ inputUnits: 2, units, rng });
    const x = rand([steps * batch, 2], rng);
    const h0 = rand([batch, units], rng);
    const c0 = rand([batch, units], rng);
    const dhs = rand([steps * batch, units], rng);
    const fwd = lstm.forward(x, { h: h0, c: c0 }, steps, true);
    const bwd = lstm.backward(fwd.trace!, dhs, null, false);
    assert.equal(bwd.dx, null);
    const expected = tf.grads((hh: tf.Tensor, wh: tf.Tensor) =>
      tf.sum(tf.mul(unrolled(x, hh as tf.Tensor2D, c0, lstm.kernel, wh as tf.Tensor2D, lstm.bias, steps)[0], dhs)) as tf.Scalar,
    )([h0, lstm.recurrent]);
    assertClose(bwd.dState.h, expected[0], 'dh_0');
    assertClose(bwd.grads[1], expected[1], 'dWh');
    lstm.dispose();
  });

  it('a reset inside the window (carry 0) zeroes that stream\'s state and stops its gradient, as autodiff says', () => {
    const rng = stream(10, 'test', 'lstm');
    const [batch, units, steps] = [2, 3, 4];
    const lstm = new Lstm({ inputUnits: 2, units, rng });
    const x = rand([steps * batch, 2], rng);
    const h0 = rand([batch, units], rng);
    const c0 = rand([batch, units], rng);
    const dhs = rand([steps * batch, units], rng);
    const dh = rand([batch, units], rng);
    const dc = rand([batch, units], rng);
    // stream 0 starts a new episode at step 2, stream 1 at step 0
    const carry = tf.tensor2d([1, 0, 1, 1, 0, 1, 1, 1], [steps * batch, 1]);
    const fwd = lstm.forward(x, { h: h0, c: c0 }, steps, true, carry);
    const bwd = lstm.backward(fwd.trace!, dhs, { h: dh, c: dc }, true);
    const loss = (xx: tf.Tensor, hh: tf.Tensor, cc: tf.Tensor, wh: tf.Tensor) => {
      const [hs, hT, cT] = unrolled(xx as tf.Tensor2D, hh as tf.Tensor2D, cc as tf.Tensor2D, lstm.kernel, wh as tf.Tensor2D, lstm.bias, steps, carry);
      return tf.addN([tf.sum(tf.mul(hs, dhs)), tf.sum(tf.mul(hT, dh)), tf.sum(tf.mul(cT, dc))]) as tf.Scalar;
    };
    const expected = tf.grads(loss)([x, h0, c0, lstm.recurrent]);
    assertClose(fwd.hs, unrolled(x, h0, c0, lstm.kernel, lstm.recurrent, lstm.bias, steps, carry)[0], 'hs');
    assertClose(bwd.dx!, expected[0], 'dx');
    assertClose(bwd.dState.h, expected[1], 'dh_0');
    assertClose(bwd.dState.c, expected[2], 'dc_0');
    assertClose(bwd.grads[1], expected[3], 'dWh');
    // stream 1 was reset before its first step: nothing reaches the state it started from
    assert.ok(bwd.dState.h.dataSync().subarray(units, 2 * units).every((v) => v === 0));
    assert.ok(bwd.dState.c.dataSync().subarray(units, 2 * units).every((v) => v === 0));
    assert.ok(bwd.dState.c.dataSync().subarray(0, units).some((v) => v !== 0));
    disposeWindowTrace(fwd.trace);
    lstm.dispose();
  });

  it('two windows with the state carried equal one window of twice the length', () => {
    const rng = stream(9, 'test', 'lstm');
    const [batch, units, steps] = [2, 4, 3];
    const lstm = new Lstm({ inputUnits: 3, units, rng });
    const x = rand([2 * steps * batch, 3], rng);
    const zero = lstm.zeroState(batch);
    const whole = lstm.forward(x, zero, 2 * steps, false);
    const first = lstm.forward(tf.slice(x, [0, 0], [steps * batch, 3]), zero, steps, false);
    const second = lstm.forward(tf.slice(x, [steps * batch, 0], [steps * batch, 3]), first.state, steps, false);
    assert.deepEqual(Array.from(tf.concat([first.hs, second.hs], 0).dataSync()), Array.from(whole.hs.dataSync()));
    assert.deepEqual(Array.from(second.state.c.dataSync()), Array.from(whole.state.c.dataSync()));
    assert.equal(whole.trace, null);
    disposeState(zero);
    lstm.dispose();
  });
});

describe('Lstm (wasm)', () => {
  after(async () => {
    await tf.setBackend('cpu');
  });

  it('backward through time matches autodiff on the wasm backend (its transposes and column sums are its own kernels)', async () => {
    await tf.setBackend('wasm');
    assert.equal(tf.getBackend(), 'wasm');
    checkAgainstAutodiff();
  });
});
