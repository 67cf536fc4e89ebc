import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { wasmOps } from '../src/runtime/wasm-kernels.js';
import { ops } from '../src/runtime/ops.js';
import { portableOps } from '../src/runtime/portable-ops.js';
import { Adam } from '../src/model/index.js';

const SHAPES: number[][] = [[4, 3], [3], [2, 5]];

function randArray(n: number, rng: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * rng() - 1) * scale);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

/** Runs our Adam and tf.train.adam side by side for `steps` steps on the same params and grads. */
function compareWithTfAdam(
  seed: string,
  opts: { learningRate: number; beta1?: number; beta2?: number; epsilon?: number },
  steps = 5,
): void {
  const rng = seedrandom(seed);
  const init = SHAPES.map((s) => randArray(s.reduce((a, b) => a * b, 1), rng));
  const ours = init.map((v, i) => tf.variable(tf.tensor(v, SHAPES[i])));
  const theirs = init.map((v, i) => tf.variable(tf.tensor(v, SHAPES[i])));
  const adam = new Adam(ours, opts);
  const ref = tf.train.adam(opts.learningRate, opts.beta1, opts.beta2, opts.epsilon);
  for (let t = 0; t < steps; t++) {
    // gradients of varied magnitudes, some tiny, so that epsilon matters
    const scale = t % 2 ? 1e-3 : 1;
    const grads = SHAPES.map((s) => tf.tensor(randArray(s.reduce((a, b) => a * b, 1), rng, scale), s));
    const count = tf.memory().numTensors;
    adam.step(grads);
    assert.equal(tf.memory().numTensors, count, 'Adam.step leaks tensors');
    ref.applyGradients(theirs.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    tf.dispose(grads);
    ours.forEach((v, i) => {
      const d = maxDiff(v, theirs[i]);
      assert.ok(d <= 1e-6, `step ${t + 1}, param ${i}: max abs diff ${d}`);
    });
  }
  assert.equal(adam.iterations, steps);
  adam.dispose();
  ref.dispose();
  tf.dispose([...ours, ...theirs]);
}

describe('Adam (cpu)', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('matches tf.train.adam over 5 steps (defaults)', async () => {
    compareWithTfAdam('a', { learningRate: 0.01 });
  });

  it('matches tf.train.adam with other betas and a large epsilon', async () => {
    compareWithTfAdam('b', { learningRate: 0.1, beta1: 0.8, beta2: 0.99, epsilon: 1e-2 });
  });

  it('getState/setState continue identically; dispose frees the moments', async () => {
    const rng = seedrandom('state');
    const init = SHAPES.map((s) => randArray(s.reduce((a, b) => a * b, 1), rng));
    const grads = [0, 1, 2, 3].map(() => SHAPES.map((s) => tf.tensor(randArray(s.reduce((a, b) => a * b, 1), rng), s)));
    const pa = init.map((v, i) => tf.variable(tf.tensor(v, SHAPES[i])));
    const a = new Adam(pa, { learningRate: 0.05 });
    a.step(grads[0]);
    a.step(grads[1]);
    const pb = pa.map((v) => tf.variable(v.clone()));
    const count = tf.memory().numTensors;
    const b = new Adam(pb, { learningRate: 0.05 });
    assert.equal(tf.memory().numTensors, count + 2 * SHAPES.length);
    b.setState((await a.getState()));
    assert.equal(b.iterations, 2);
    for (const g of grads.slice(2)) {
      a.step(g);
      b.step(g);
    }
    pa.forEach((v, i) => assert.deepEqual(v.dataSync(), pb[i].dataSync()));
    b.dispose();
    assert.equal(tf.memory().numTensors, count);
    assert.throws(() => a.step(grads[0].slice(1)), /3 parameters/);
    a.dispose();
    tf.dispose([...pa, ...pb, ...grads.flat()]);
  });

  it('learningRate can be changed between steps', async () => {
    const p = tf.variable(tf.tensor1d([1, 2]));
    const adam = new Adam([p], { learningRate: 0.5 });
    const g = tf.tensor1d([1, -1]);
    adam.step([g]);
    // first step moves each coordinate by ~lr against the gradient sign
    const after1 = Array.from(p.dataSync());
    assert.ok(Math.abs(after1[0] - 0.5) < 1e-5 && Math.abs(after1[1] - 2.5) < 1e-5, String(after1));
    adam.learningRate = 0;
    adam.step([g]);
    assert.deepEqual(Array.from(p.dataSync()), after1);
    adam.dispose();
    tf.dispose([p, g]);
  });
});

describe('Adam (wasm)', () => {
  after(async () => {
    await tf.setBackend('cpu');
  });

  it('matches tf.train.adam over 5 steps on the wasm backend', async () => {
    await tf.setBackend('wasm');
    assert.equal(tf.getBackend(), 'wasm');
    compareWithTfAdam('w', { learningRate: 0.01 });
    compareWithTfAdam('w2', { learningRate: 0.1, beta1: 0.8, beta2: 0.99, epsilon: 1e-2 });
  });

  it('on wasm, a matMul after a step uses the new weights (the backend caches packed weights per tensor)', async () => {
    await tf.setBackend('wasm');
    const w = tf.variable(tf.zeros([3, 2]));
    const x = tf.ones([1, 3]);
    const adam = new Adam([w], { learningRate: 0.5 });
    const before = tf.matMul(x, w);
    adam.step([tf.ones([3, 2])]);
    const after = tf.matMul(x, w);
    assert.deepEqual(Array.from(before.dataSync()), [0, 0]);
    assert.ok(after.dataSync().every((v) => Math.abs(v + 1.5) < 1e-3), `x·w after one step: ${after.dataSync()}`);
    tf.dispose([w, x, before, after]);
    adam.dispose();
  });

  it('on wasm, the SIMD kernel built from kernels.wat loads (otherwise Adam falls back to tfjs ops)', async () => {
    await tf.setBackend('wasm');
    assert.ok(wasmOps(), 'dist/src/runtime/kernels.wasm missing or not loadable: run npm run build');
    assert.equal(ops(), wasmOps());
    await tf.setBackend('cpu');
    assert.equal(wasmOps(), null);
    assert.equal(ops(), portableOps);
  });

  it('updates in the wasm heap (SIMD kernel) exactly as the tfjs ops do on cpu', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const rng = seedrandom('bits');
      const params = SHAPES.map((s) => tf.variable(tf.tensor(randArray(s.reduce((a, b) => a * b, 1), rng), s)));
      const adam = new Adam(params, { learningRate: 0.03 });
      for (let t = 0; t < 6; t++) {
        const grads = SHAPES.map((s) => tf.tensor(randArray(s.reduce((a, b) => a * b, 1), rng, t % 2 ? 1e-4 : 3), s));
        adam.step(grads);
        tf.dispose(grads);
      }
      const out = [...params.map((p) => p.dataSync().slice()), ...(await adam.getState())];
      adam.dispose();
      tf.dispose(params);
      return out;
    };
    const onWasm = await run('wasm');
    const onCpu = await run('cpu');
    assert.equal(onWasm.length, onCpu.length);
    onWasm.forEach((a, i) => {
      assert.equal(a.length, onCpu[i].length);
      // float32 op by op in the same order on both: bit-identical, SIMD lanes and scalar tail alike
      a.forEach((x, k) => assert.ok(Object.is(x, onCpu[i][k]), `array ${i}[${k}]: wasm ${x}, cpu ${onCpu[i][k]}`));
    });
  });
});
