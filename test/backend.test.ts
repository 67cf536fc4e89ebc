import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
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
