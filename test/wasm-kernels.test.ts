import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { wasmOps } from '../src/runtime/wasm-kernels.js';
import { ops } from '../src/runtime/ops.js';
import { portableOps, type BackendOps } from '../src/runtime/portable-ops.js';

/** The wasm backend's own operations (the backend must be active). */
function wasm(): BackendOps {
  const own = wasmOps();
  assert.ok(own, 'kernels.wasm missing: run npm run build');
  return own;
}
import { allFinite, finiteData } from '../src/stage/non-finite.js';
import { columnSum, transpose2d } from '../src/model/layer.js';

// every combination of a multiple of 4 and a remainder, in rows and columns, and a single row/column
const SHAPES: [number, number][] = [[8, 12], [7, 12], [8, 13], [9, 6], [1, 5], [5, 1], [128, 266], [37, 23], [33, 8], [16, 5], [20, 20]];

function matrix(rows: number, cols: number, rng: () => number): Float32Array {
  return Float32Array.from({ length: rows * cols }, () => rng() * 2 - 1);
}

describe('wasm kernels (src/runtime/kernels.wat)', () => {
  before(async () => {
    await tf.setBackend('wasm');
  });
  after(async () => {
    await tf.setBackend('cpu');
  });

  it('transpose moves every element of [rows, cols] to [cols, rows], blocks and edges alike', () => {
    const rng = seedrandom('transpose');
    for (const [rows, cols] of SHAPES) {
      const values = matrix(rows, cols, rng);
      const x = tf.tensor2d(values, [rows, cols]);
      const t = wasm().transpose2d(x);
      assert.deepEqual(t.shape, [cols, rows]);
      const out = t.dataSync();
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) assert.equal(out[c * rows + r], values[r * cols + c], `[${rows}, ${cols}] at (${r}, ${c})`);
      tf.dispose([x, t]);
    }
  });

  it('column sums match a float64 sum to float32 rounding, scaled, for any shape', () => {
    const rng = seedrandom('colsum');
    for (const [rows, cols] of SHAPES) {
      const values = matrix(rows, cols, rng);
      const x = tf.tensor2d(values, [rows, cols]);
      const s = wasm().columnSum(x, 0.25);
      assert.deepEqual(s.shape, [1, cols]);
      const out = s.dataSync();
      for (let c = 0; c < cols; c++) {
        let sum = 0;
        for (let r = 0; r < rows; r++) sum += values[r * cols + c];
        assert.ok(Math.abs(out[c] - 0.25 * sum) <= 1e-6 * rows, `[${rows}, ${cols}] column ${c}: ${out[c]} vs ${0.25 * sum}`);
      }
      tf.dispose([x, s]);
    }
  });

  it('columnSum and transpose2d give the same results on wasm as on cpu, and leak no tensors', async () => {
    const rng = seedrandom('backends');
    const values = matrix(37, 19, rng);
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const [s, t] = tf.tidy(() => {
        const x = tf.tensor2d(values, [37, 19]);
        return [columnSum(x, 2).dataSync().slice(), transpose2d(x).dataSync().slice()];
      });
      assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
      return { s, t };
    };
    const onWasm = await run('wasm');
    const onCpu = await run('cpu');
    await tf.setBackend('wasm');
    assert.deepEqual(onWasm.t, onCpu.t);
    onWasm.s.forEach((x, i) => assert.ok(Math.abs(x - onCpu.s[i]) <= 1e-5, `column ${i}: wasm ${x}, cpu ${onCpu.s[i]}`));
  });

  it('all-finite finds a NaN or ±Inf anywhere (SIMD lanes or tail), and passes the largest finite floats', async () => {
    for (const n of [1, 3, 4, 7, 8, 1001]) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        for (const at of [0, Math.floor(n / 2), n - 1]) {
          const values = new Float32Array(n).fill(3.4e38);
          const ok = tf.tensor1d(values);
          values[at] = bad;
          const broken = tf.tensor1d(values);
          assert.equal(await wasm().allFinite([ok]), true, `n=${n}`);
          assert.equal(await wasm().allFinite([ok, broken]), false, `n=${n}, ${bad} at ${at}`);
          await tf.setBackend('cpu');
          const [okCpu, brokenCpu] = [tf.tensor1d(values.map((v, i) => (i === at ? 3.4e38 : v))), tf.tensor1d(values)];
          assert.equal(await allFinite([okCpu]), true);
          assert.equal(await allFinite([okCpu, brokenCpu]), false, `cpu: n=${n}, ${bad} at ${at}`);
          tf.dispose([okCpu, brokenCpu]);
          await tf.setBackend('wasm');
          tf.dispose([ok, broken]);
        }
      }
    }
  });

  it('finiteData checks the tensor itself on wasm, and the values read from it elsewhere', async () => {
    const values = new Float32Array([1, 2, 3, 4, 5]);
    const broken = values.slice();
    broken[4] = NaN;
    tf.tidy(() => {
      assert.equal(finiteData(tf.tensor1d(values), values), true);
      assert.equal(finiteData(tf.tensor1d(broken), values), false, 'wasm: the tensor, not the copy');
      assert.equal(finiteData(tf.tensor1d(values), broken), true, 'wasm: the tensor, not the copy');
    });
    await tf.setBackend('cpu');
    tf.tidy(() => {
      assert.equal(finiteData(tf.tensor1d(values), values), true);
      assert.equal(finiteData(tf.tensor1d(values), broken), false, 'cpu: the values read');
    });
    await tf.setBackend('wasm');
  });

  it('regression: dy bit-identical to the tfjs ops on cpu, and the four sums to float32 rounding, for any size', async () => {
    const rng = seedrandom('regression');
    for (const n of [1, 6, 8, 4 * 257 + 3]) {
      const [y, t, u] = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => rng() * 2 - 1));
      const rows = 128;
      const fast = tf.tidy(() => {
        const r = wasm().regression(tf.tensor1d(y), tf.tensor1d(t), tf.tensor1d(u), rows, 2 / rows);
        return [r.dy.dataSync().slice(), r.stats.dataSync().slice()];
      });
      await tf.setBackend('cpu');
      const dyCpu = tf.tidy(() => tf.mul(tf.sub(tf.tensor1d(y), tf.mul(tf.tensor1d(t), rows)), 2 / rows).dataSync().slice());
      await tf.setBackend('wasm');
      fast[0].forEach((v, i) => assert.ok(Object.is(v, dyCpu[i]), `n=${n}, dy[${i}]: ${v} vs ${dyCpu[i]}`));
      const sum = (f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i)).reduce((a, b) => a + b, 0);
      const d = (i: number) => y[i] - rows * t[i];
      const expected = [sum((i) => d(i) ** 2), sum((i) => u[i] * t[i]), sum((i) => u[i] ** 2), sum((i) => t[i] ** 2)];
      expected.forEach((e, k) => assert.ok(Math.abs(fast[1][k] - e) <= 1e-5 * Math.max(1, Math.abs(e)), `n=${n}, sum ${k}: ${fast[1][k]} vs ${e}`));
    }
  });

  it('concat_columns puts the columns of b after those of a, row by row, exactly', () => {
    const rng = seedrandom('concat');
    for (const [rows, ca, cb] of [[1, 1, 1], [3, 5, 2], [128, 256, 10]]) {
      const [a, b] = [matrix(rows, ca, rng), matrix(rows, cb, rng)];
      const out = tf.tidy(() => wasm().concatColumns(tf.tensor2d(a, [rows, ca]), tf.tensor2d(b, [rows, cb])).dataSync().slice());
      const expected = tf.tidy(() => tf.concat([tf.tensor2d(a, [rows, ca]), tf.tensor2d(b, [rows, cb])], 1).dataSync().slice());
      assert.deepEqual(out, expected, `[${rows}, ${ca}] + [${rows}, ${cb}]`);
    }
  });

  it('are the wasm backend\'s operations, and not used off wasm', async () => {
    assert.equal(ops(), wasm());
    await tf.setBackend('cpu');
    assert.equal(wasmOps(), null);
    assert.equal(ops(), portableOps);
    await tf.setBackend('wasm');
  });

  it('leave tensors of another dtype to the portable ops', async () => {
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
    const b = tf.tensor2d([5, 6], [2, 1], 'int32');
    tf.tidy(() => {
      assert.deepEqual(Array.from(wasm().concatColumns(a, b).dataSync()), [1, 2, 5, 3, 4, 6]);
      assert.deepEqual(Array.from(wasm().transpose2d(a).dataSync()), [1, 3, 2, 4]);
    });
    assert.equal(await wasm().allFinite([a]), true);
    tf.dispose([a, b]);
  });

  it("BatchNorm's forward and backward match the portable ops (tfjs ops on the same backend), any shape, relu or not", () => {
    const rng = seedrandom('batchnorm');
    for (const [rows, n] of SHAPES) {
      for (const relu of [true, false]) {
        tf.tidy(() => {
          const x = tf.tensor2d(matrix(rows, n, rng).map((v) => 3 * v + 1), [rows, n]);
          const gamma = tf.tensor1d(matrix(1, n, rng).map((v) => v + 1.5));
          const beta = tf.tensor1d(matrix(1, n, rng));
          const dy = tf.tensor2d(matrix(rows, n, rng), [rows, n]);
          const own = wasm().batchNormForward(x, gamma, beta, 1e-3, relu);
          const ref = portableOps.batchNormForward(x, gamma, beta, 1e-3, relu);
          const where = `[${rows}, ${n}] relu ${relu}`;
          for (const k of ['y', 'xhat', 'mean', 'variance', 'scale'] as const) {
            assert.deepEqual(own[k].shape, ref[k].shape, `${where} ${k} shape`);
            closeTo(own[k].dataSync(), ref[k].dataSync(), 1e-5, `${where} forward ${k}`);
          }
          for (const needDx of [true, false]) {
            const a = wasm().batchNormBackward(dy, own.xhat, relu ? own.y : null, own.scale, needDx);
            const b = portableOps.batchNormBackward(dy, ref.xhat, relu ? ref.y : null, ref.scale, needDx);
            closeTo(a.dgamma.dataSync(), b.dgamma.dataSync(), 1e-5 * rows, `${where} dgamma`);
            closeTo(a.dbeta.dataSync(), b.dbeta.dataSync(), 1e-5 * rows, `${where} dbeta`);
            assert.equal(a.dx === null, !needDx);
            if (a.dx && b.dx) {
              assert.deepEqual(a.dx.shape, [rows, n]);
              closeTo(a.dx.dataSync(), b.dx.dataSync(), 1e-5, `${where} dx`);
            }
          }
        });
      }
    }
  });

  it('im2col_t puts every window value at its place (0 in the padding): SIMD blocks, channel tails and edges, any stride', () => {
    const rng = seedrandom('im2col');
    // [b, h, w, c, k, s, top, left, ho, wo]: channels 1 to 21 (fours, tails, past the blocks of 16),
    // output widths below 4 and not a multiple of 4, strides 1-3, padding on one side or both
    const cases: number[][] = [
      [2, 5, 6, 1, 3, 1, 1, 1, 5, 6],
      [3, 7, 9, 4, 3, 1, 1, 1, 7, 9],
      [2, 6, 7, 6, 5, 1, 2, 2, 6, 7],
      [2, 8, 9, 9, 3, 2, 1, 1, 4, 5],
      [1, 9, 11, 17, 4, 2, 1, 2, 5, 6],
      [2, 6, 6, 21, 3, 3, 0, 0, 2, 2],
      [1, 4, 13, 8, 2, 1, 0, 0, 3, 12],
      [2, 3, 3, 5, 1, 1, 0, 0, 3, 3],
    ];
    for (const [b, h, w, c, k, s, top, left, ho, wo] of cases) {
      tf.tidy(() => {
        const values = matrix(b * h * w, c, rng);
        const x = tf.tensor4d(values, [b, h, w, c]);
        const what = `x [${b}, ${h}, ${w}, ${c}], ${k}x${k}/${s}, pad ${top},${left} -> ${ho}x${wo}`;
        const cols = wasm().im2colT!(x, k, s, top, left, ho, wo)!;
        assert.deepEqual(cols.shape, [k * k * c, b * ho * wo], what);
        const out = cols.dataSync();
        const n = b * ho * wo;
        for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let ch = 0; ch < c; ch++) {
          for (let e = 0; e < b; e++) for (let oh = 0; oh < ho; oh++) for (let ow = 0; ow < wo; ow++) {
            const r = oh * s + i - top;
            const q = ow * s + j - left;
            const expected = r >= 0 && r < h && q >= 0 && q < w ? values[((e * h + r) * w + q) * c + ch] : 0;
            const at = ((i * k + j) * c + ch) * n + (e * ho + oh) * wo + ow;
            if (out[at] !== expected) assert.fail(`${what}: window (${i}, ${j}) channel ${ch} at (${e}, ${oh}, ${ow}): ${out[at]}, expected ${expected}`);
          }
        }
        // a run of examples is the matching columns of the whole
        if (b > 1) {
          const part = wasm().im2colT!(x, k, s, top, left, ho, wo, [1, b - 1])!;
          assert.deepEqual(part.shape, [k * k * c, (b - 1) * ho * wo], what);
          assert.deepEqual(Array.from(part.dataSync()), Array.from(tf.slice(cols, [0, ho * wo], [-1, -1]).dataSync()), `${what}: examples 1..`);
        }
      });
    }
    const x = tf.zeros([2, 3, 3, 1]) as tf.Tensor4D;
    assert.throws(() => wasm().im2colT!(x, 1, 1, 0, 0, 3, 3, [1, 2]), /examples \[1, 2\] are not a range of the batch of 2/);
    x.dispose();
  });
});

/** Element by element within `tol` (absolute, plus relative to the magnitude). */
function closeTo(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}
