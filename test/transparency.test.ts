import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { assertTransparent } from './helpers/transparency.js';
import { smallConfig, smallCnnConfig, trainingBatches } from './helpers/fixtures.js';

test('backprop through the stage workers equals single-process tfjs backprop', async () => {
  await tf.setBackend('wasm');
  await assertTransparent(smallConfig({ mode: 'backprop' }), trainingBatches(6, 32));
});

test('a CNN in stages (conv, BatchNorm, max/avg pooling, flatten) trains exactly as single-process autodiff backprop', async () => {
  // the reference needs conv and pooling gradients, which only the cpu backend has right; the
  // stages run on cpu too, so that both sides round alike (wasm stages differ by about 2e-5)
  await tf.setBackend('cpu');
  await assertTransparent(smallCnnConfig({ mode: 'backprop', backend: 'cpu' }), trainingBatches(4, 16));
});
