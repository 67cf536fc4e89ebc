import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/runtime/backend.js';

const require = createRequire(import.meta.url);
const installed = (pkg: string) => {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};
const native = installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node');

test('auto falls back to wasm and says why the native backends were skipped', { skip: native && 'a native backend is installed' }, async () => {
  const choice = await selectBackend('auto');
  assert.equal(choice.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(choice.skipped.map((s) => s.candidate), ['tfjs-node-gpu', 'tfjs-node']);
  for (const s of choice.skipped) assert.match(s.reason, /Cannot find (package|module)/);
});

test('--backend tensorflow without the native package fails with what to do next', { skip: native && 'a native backend is installed' }, async () => {
  await assert.rejects(selectBackend('tensorflow'), /no backend could start for --backend tensorflow \(install @tensorflow\/tfjs-node.*--backend wasm\)/);
});

test('an explicit backend is taken as asked', async () => {
  assert.equal((await selectBackend('cpu')).name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal((await selectBackend('wasm')).name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
});

test('a stage loads tfjs-core and the backends it runs on, not the whole tfjs package (layers, converter, data, webgl)', async () => {
  const { spawnSync } = await import('node:child_process');
  const serveStage = new URL('../src/pipeline/serve-stage.js', import.meta.url).href;
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
