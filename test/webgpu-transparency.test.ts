import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { assertTransparent } from './helpers/transparency.js';
import { smallConfig, smallCnnConfig, trainingBatches } from './helpers/fixtures.js';
import { requireAdapter } from './helpers/webgpu.js';

/*
 * The stages run on webgpu (in CI: lavapipe, Mesa's software Vulkan), the reference is tfjs autodiff
 * in one process on cpu. The GPU sums in other orders than the CPU (matMul tiles, reductions in
 * shared memory), so the two differ by float32 rounding, which Adam's first steps magnify (a step
 * is about lr·sign(g) while the second moment is small). On lavapipe the largest weight difference
 * after these steps is 1.0e-5 (MLP) and 1.7e-6 (CNN); TOLERANCE leaves room for other adapters'
 * summation orders, while a wrong gradient moves weights by about the learning rate (1e-2).
 */
const TOLERANCE = 5e-5;

test('backprop through webgpu stages (MLP, BatchNorm) equals single-process cpu autodiff', async () => {
  await requireAdapter();
  await tf.setBackend('cpu');
  await assertTransparent(smallConfig({ mode: 'backprop', backend: 'webgpu' }), trainingBatches(6, 32), TOLERANCE);
});

test('a CNN in webgpu stages (conv, BatchNorm, max/avg pooling, flatten) equals single-process cpu autodiff', async () => {
  await requireAdapter();
  await tf.setBackend('cpu');
  await assertTransparent(smallCnnConfig({ mode: 'backprop', backend: 'webgpu' }), trainingBatches(4, 16), TOLERANCE);
});
