import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requireAdapter } from './helpers/webgpu.js';

test('gpu-check lists the adapters, trains on webgpu and wasm, and says whether transparency holds, in one table', async () => {
  await requireAdapter();
  const script = fileURLToPath(new URL('../scripts/gpu-check.js', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--steps', '2', '--cnn-steps', '1', '--eval-images', '64'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^WebGPU adapters \([1-9]\d*\):\n {2}\S.*; (software|hardware)\)$/m);
  assert.match(r.stdout, /^backend +matMul GFLOP\/s +mnist-cdni \(2 steps\) samples\/s, read share +mnist-cnn-cdni \(1 steps\) samples\/s, read share +adapter$/m);
  assert.match(r.stdout, /^webgpu +\d+\.\d +\d+ +\d+\.\d% +\d+ +\d+\.\d% +\S.*; (software|hardware)\)$/m);
  assert.match(r.stdout, /^wasm +\d+\.\d +\d+ +\d+\.\d% +\d+ +\d+\.\d% +-$/m);
  assert.match(r.stdout, /^webgpu transparency \(.*\): holds \(2 passed, 0 failed\)$/m);
});

test('gpu-check refuses an unknown backend, naming the flag', () => {
  const script = fileURLToPath(new URL('../scripts/gpu-check.js', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--backends', 'webgpu,vulkan'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--backends <list>.*unknown backend 'vulkan'/);
});
