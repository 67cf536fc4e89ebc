import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { matMul, secondOperand } from '../src/runtime/mat-mul.js';
import { portableOps } from '../src/runtime/portable-ops.js';

/**
 * tfjs-wasm (4.22) keeps a matMul's packed second operand by its data, whatever the shape: the
 * same data as a second operand in two shapes gave wrong products (and wrote past the output).
 * matMul passes such data in a copy.
 */
describe('matMul on wasm: one data, two shapes as the second operand', () => {
  let previous = '';
  before(async () => {
    previous = tf.getBackend() ?? 'cpu';
    assert.ok(await tf.setBackend('wasm'));
  });
  after(async () => {
    await tf.setBackend(previous);
  });

  it('each product is right, and matches the cpu backend', async () => {
    const values = Float32Array.from({ length: 60 * 32 }, (_, i) => Math.sin(i));
    const a1 = Float32Array.from({ length: 5 * 60 }, (_, i) => Math.cos(i));
    const a2 = Float32Array.from({ length: 4 * 6 }, (_, i) => Math.cos(3 * i));
    const products = (mm: typeof matMul) =>
      tf.tidy(() => {
        const b = tf.tensor2d(values, [60, 32]);
        const first = mm(tf.tensor2d(a1, [5, 60]), b);
        const second = mm(tf.tensor2d(a2, [4, 6]), tf.reshape(b, [6, 320]) as tf.Tensor2D);
        return [first.arraySync() as number[][], second.arraySync() as number[][]];
      });
    const got = products(matMul);
    await tf.setBackend('cpu');
    const want = products((a, b) => tf.matMul(a, b));
    await tf.setBackend('wasm');
    for (const [k, rows] of got.entries()) {
      rows.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - want[k][i][j]) <= 1e-4 * (1 + Math.abs(want[k][i][j])), `product ${k} [${i}, ${j}]: ${v}, expected ${want[k][i][j]}`)));
    }
  });

  it("the portable column sum (wasm without synthgrad's kernels) of data a product used in another shape", () => {
    tf.tidy(() => {
      const values = Float32Array.from({ length: 24 * 16 }, (_, i) => Math.sin(i));
      const m = tf.tensor2d(values, [24, 16]);
      matMul(tf.ones([3, 24]), m);
      const view = tf.reshape(m, [48, 8]) as tf.Tensor2D;
      const got = portableOps.columnSum(view, 0.5).dataSync();
      const want = Array.from({ length: 8 }, (_, j) => 0.5 * Array.from({ length: 48 }, (_, i) => values[i * 8 + j]).reduce((a, b) => a + b, 0));
      want.forEach((w, j) => assert.ok(Math.abs(got[j] - w) <= 1e-4 * (1 + Math.abs(w)), `column ${j}: ${got[j]}, expected ${w}`));
    });
  });

  it('the same shape again is not copied; another shape is, once', () => {
    tf.tidy(() => {
      const b = tf.ones([8, 4]);
      assert.equal(secondOperand(b), b);
      assert.equal(secondOperand(b), b);
      const other = tf.reshape(b, [4, 8]);
      const copy = secondOperand(other);
      assert.notEqual(copy, other);
      assert.notEqual(copy.dataId, b.dataId);
      assert.deepEqual(copy.shape, [4, 8]);
    });
  });
});

describe('matMul on cpu', () => {
  it('passes the operand as it is', async () => {
    const previous = tf.getBackend() ?? 'cpu';
    await tf.setBackend('cpu');
    try {
      tf.tidy(() => {
        const b = tf.ones([8, 4]);
        secondOperand(b);
        const other = tf.reshape(b, [4, 8]);
        assert.equal(secondOperand(other), other);
      });
    } finally {
      await tf.setBackend(previous);
    }
  });
});
