import { test } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/runtime/backend.js';
import { describeAdapter, isSoftwareAdapter } from '../src/runtime/webgpu.js';
import { ops } from '../src/runtime/ops.js';
import { portableOps } from '../src/runtime/portable-ops.js';
import { requireAdapter } from './helpers/webgpu.js';

test('software adapters are told apart from hardware ones by what they say of themselves', () => {
  const adapter = (vendor: string, architecture: string, device: string, description: string, isFallbackAdapter = false) => ({ vendor, architecture, device, description, isFallbackAdapter });
  assert.equal(isSoftwareAdapter(adapter('mesa', 'software', 'llvmpipe-llvm-15-0-6-256-bits-', 'llvmpipe: Mesa 25.0.7')), true);
  assert.equal(isSoftwareAdapter(adapter('google', '', 'swiftshader', 'SwiftShader Device (Subzero)')), true);
  assert.equal(isSoftwareAdapter(adapter('microsoft', '', '', 'Microsoft Basic Render Driver')), true);
  assert.equal(isSoftwareAdapter(adapter('', '', '', '', true)), true);
  assert.equal(isSoftwareAdapter(adapter('nvidia', 'hopper', '', 'NVIDIA H100 80GB HBM3')), false);
  assert.equal(isSoftwareAdapter(adapter('apple', 'metal-3', '', 'Apple M2')), false);
  assert.equal(isSoftwareAdapter(adapter('amd', 'rdna-3', '', 'AMD Radeon RX 7900 XTX (RADV NAVI31)')), false);
});

test('--backend webgpu starts on the adapter the machine offers, says which, and computes what cpu computes', async () => {
  const found = await requireAdapter();
  const choice = await selectBackend('webgpu');
  assert.equal(choice.name, 'webgpu');
  assert.equal(tf.getBackend(), 'webgpu');
  assert.deepEqual(choice.adapter, found);
  assert.match(describeAdapter(found), found.software ? /; software\)$/ : /; hardware\)$/);
  const a = tf.tensor2d(Array.from({ length: 64 * 48 }, (_, i) => Math.sin(i)), [64, 48]);
  const b = tf.tensor2d(Array.from({ length: 48 * 32 }, (_, i) => Math.cos(i)), [48, 32]);
  const onGpu = await tf.matMul(a, b).data();
  const [ha, hb] = [await a.data(), await b.data()];
  await selectBackend('cpu');
  const onCpu = tf.matMul(tf.tensor2d(ha, [64, 48]), tf.tensor2d(hb, [48, 32])).dataSync();
  for (let i = 0; i < onCpu.length; i += 1) assert.ok(Math.abs(onGpu[i] - onCpu[i]) < 1e-4, `element ${i}: ${onGpu[i]} vs ${onCpu[i]}`);
});

test('on webgpu the operations are the portable ones (never a wasm kernel) and agree with wasm\'s', async () => {
  await requireAdapter();
  const rng = seedrandom('ops');
  const values = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
  const [m, y, t, p, g] = [values(37 * 19), values(60), values(60), values(60), values(60)];
  const run = async (backend: 'webgpu' | 'wasm') => {
    await selectBackend(backend);
    const own = ops();
    const x = tf.tensor2d(m, [37, 19]);
    const { dy, stats } = own.regression(tf.tensor1d(y), tf.tensor1d(t), tf.tensor1d(t), 3, 0.5);
    const param = tf.variable(tf.tensor1d(p));
    const [m1, v1] = [tf.variable(tf.zeros([60])), tf.variable(tf.zeros([60]))];
    own.adamUpdate(param, m1, v1, tf.tensor1d(g), { b1: 0.9, b2: 0.999, c1: 0.1, c2: 0.001, lr: -0.01, eps: 1e-7 });
    const outputs = [own.columnSum(x, 2), own.transpose2d(x), own.concatColumns(x, x), dy, stats, param, m1, v1];
    const read = await Promise.all(outputs.map((o) => o.data()));
    return { own, read };
  };
  const gpu = await run('webgpu');
  assert.equal(gpu.own, portableOps);
  const cpu = await run('wasm');
  gpu.read.forEach((values, k) =>
    values.forEach((v, i) => assert.ok(Math.abs(v - cpu.read[k][i]) <= 1e-4 * Math.max(1, Math.abs(cpu.read[k][i])), `output ${k}[${i}]: webgpu ${v}, wasm ${cpu.read[k][i]}`)),
  );
});
