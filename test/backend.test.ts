import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { nativeProblem, selectBackend } from '../src/runtime/backend.js';
import { gpuDeviceNodes, startWebGpu } from '../src/runtime/webgpu.js';
import { testUnless } from './helpers/needs.js';

/** Whether a native tfjs backend loads here (an install without its downloaded binding does not). */
const nativeWorks = await Promise.any(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].map((p) => import(p))).then(
  () => true,
  () => false,
);

const native = nativeWorks ? 'a native tfjs backend loads on this machine, and this test is for machines without one' : null;

testUnless(native, 'auto falls back to wasm and says why the native backends were skipped', {}, async () => {
  const adapter = await startWebGpu().catch(() => null);
  const choice = await selectBackend('auto');
  if (adapter && !adapter.software) {
    assert.equal(choice.name, 'webgpu', 'a hardware adapter comes before wasm');
    return;
  }
  assert.equal(choice.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(choice.skipped.map((s) => s.candidate), ['tfjs-node-gpu', 'tfjs-node', 'webgpu']);
  for (const s of choice.skipped.slice(0, 2)) assert.match(s.reason, /is (not installed|installed without its native binding).*docs\/backends\.md/);
  // no GPU device node: Dawn is not even started (it would print its warnings among the JSON logs)
  const why = gpuDeviceNodes()?.length === 0 ? /^no GPU device on this machine .*taken only with --backend webgpu/ : /only a software adapter|WebGPU offers no adapter|did not load/;
  assert.match(choice.skipped[2].reason, why);
});

testUnless(native, '--backend tensorflow without the native package fails with what to do next', {}, async () => {
  await assert.rejects(selectBackend('tensorflow'), /no backend could start for --backend tensorflow \(install @tensorflow\/tfjs-node.*--backend wasm\)/);
});

test('a missing or half-installed tfjs-node-gpu is named with what to do', () => {
  const missing = nativeProblem('@tensorflow/tfjs-node-gpu', "Cannot find package '@tensorflow/tfjs-node-gpu' imported from /x/backend.js");
  assert.match(missing, /^@tensorflow\/tfjs-node-gpu is not installed \(optional: `npm install @tensorflow\/tfjs-node-gpu` on a machine with internet/);
  const unbuilt = nativeProblem('@tensorflow/tfjs-node-gpu', 'The Node.js native addon module (tfjs_binding.node) can not be found at path: /x');
  assert.match(unbuilt, /installed without its native binding.*`npm rebuild @tensorflow\/tfjs-node-gpu` with internet/);
  assert.equal(nativeProblem('@tensorflow/tfjs-node', 'libcudart.so.11.0: cannot open'), 'libcudart.so.11.0: cannot open');
});

test('an explicit backend is taken as asked', async () => {
  assert.equal((await selectBackend('cpu')).name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal((await selectBackend('wasm')).name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
});

test('a stage loads tfjs-core and the backends it runs on, not the whole tfjs package (layers, converter, data, webgl)', async () => {
  const { spawnSync } = await import('node:child_process');
  const serveStage = new URL('../src/loop/serve-stage.js', import.meta.url).href;
  const backend = new URL('../src/runtime/backend.js', import.meta.url).href;
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(serveStage)});
    const { selectBackend } = await import(${JSON.stringify(backend)});
    await selectBackend('wasm');
    const loaded = Object.keys(createRequire(import.meta.url).cache)
      .map((f) => /node_modules\\/@tensorflow\\/([^/]+)\\//.exec(f)?.[1]).filter(Boolean);
    console.log(JSON.stringify([...new Set(loaded)].sort()));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['tfjs-backend-cpu', 'tfjs-backend-wasm', 'tfjs-core']);
});
