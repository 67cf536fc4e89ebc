import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { Synthesizer } from '../src/stage/synthesizer.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { ThreadStageHost } from '../src/transport/threads/thread-host.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { stream } from '../src/stage/rng.js';
import { Conv2D } from '../src/model/index.js';
import type { StageStats } from '../src/stage/protocol.js';
import { smallCnnConfig, trainingBatches, copyBatch } from './helpers/fixtures.js';

const [B, H, W, C, K] = [20, 6, 6, 3, 10];

function convSynthesizer(conditioned: boolean): Synthesizer {
  return new Synthesizer({
    shape: [H, W, C], kernelSize: 3, conditioned, classes: K, hiddenLayers: [], batchNorm: false,
    learningRate: 3e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, rng: stream('t', 'conv-synth'),
  });
}

/** Final loss of `steps` synthesizer steps on a target that depends only on each example's label. */
async function fit(synth: Synthesizer, steps: number): Promise<{ first: number; last: number; zeroAtStart: number }> {
  const rng = stream('t', 'conv-synth-data');
  const labels = Array.from({ length: B }, (_, i) => i % K);
  const perClass = Array.from({ length: K * C }, () => rng() - 0.5);
  const values = new Float32Array(B * H * W * C).map((_, i) => perClass[labels[Math.floor(i / (H * W * C))] * C + (i % C)] / B);
  const h = tf.tensor4d(new Float32Array(B * H * W * C).map(() => rng()), [B, H, W, C]);
  const oneHot = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), K), 'float32') as tf.Tensor2D;
  const target = tf.tensor4d(values, [B, H, W, C]);
  try {
    const zero = synth.predict(h, oneHot);
    const zeroAtStart = tf.max(tf.abs(zero)).dataSync()[0];
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) losses.push((await synth.train(h, oneHot, target, zero)).loss);
    zero.dispose();
    return { first: losses[0], last: losses[steps - 1], zeroAtStart };
  } finally {
    tf.dispose([h, oneHot, target]);
    synth.dispose();
  }
}

test('a convolutional synthesizer starts at zero, predicts h-shaped gradients, and (cDNI) learns from the label channels', async () => {
  await tf.setBackend('wasm');
  const synth = convSynthesizer(true);
  const layers = synth.net.layers;
  assert.ok(layers[0] instanceof Conv2D);
  assert.deepEqual([layers[0].inputShape, layers[layers.length - 1].outputShape], [[H, W, C + K], [H, W, C]]);
  const conditioned = await fit(synth, 80);
  assert.equal(conditioned.zeroAtStart, 0);
  assert.ok(conditioned.last < 0.2 * conditioned.first, `loss went from ${conditioned.first} to ${conditioned.last}`);
  // without the label the target (random h, label-dependent g) cannot be fitted nearly as well
  const blind = await fit(convSynthesizer(false), 80);
  assert.ok(blind.last > 2 * conditioned.last, `unconditioned ${blind.last} vs conditioned ${conditioned.last}`);
});

test('a small CNN trains in lockstep with convolutional cDNI synthesizers that learn their targets', async () => {
  const config = smallCnnConfig({ mode: 'cdni', synthesizer: { hiddenLayers: [4], batchNorm: true, kernelSize: 3 }, train: { seed: 11 } });
  const batches = trainingBatches(60, 32);
  const losses: number[] = [];
  const pipeline = await Pipeline.start(stageSpecs(config, 1), { onStep: (r) => losses.push(r.loss) }, new ThreadStageHost());
  const stats: StageStats[][] = [];
  try {
    for (const [step, batch] of batches.entries()) {
      await pipeline.credit(1);
      pipeline.feed(copyBatch(batch), step);
      if (step === 19 || step === 59) {
        await pipeline.drain();
        stats.push(await pipeline.stats());
      }
    }
  } finally {
    await pipeline.stop();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(losses.slice(-10)) < 0.6 * mean(losses.slice(0, 10)), `task loss ${mean(losses.slice(0, 10))} -> ${mean(losses.slice(-10))}`);
  // ĝ starts at zero and its cosine with the target is small (a conv synthesizer sees the label as
  // channels constant over the image), but it grows, and the synthesizer's loss falls
  const quality = [0, 1].map((stage) => stats.map((s) => [s[stage].synthesizerLoss!, s[stage].synthesizerCosine!]));
  for (const [stage, [[earlyLoss, earlyCosine], [lateLoss, lateCosine]]] of quality.entries()) {
    assert.ok(lateCosine > 0.02 && lateCosine > earlyCosine, `stage ${stage}: cosine of ĝ with its target ${earlyCosine} (steps 0-19) -> ${lateCosine} (20-59)`);
    assert.ok(lateLoss < 0.95 * earlyLoss, `stage ${stage}: synthesizer loss ${earlyLoss} -> ${lateLoss}`);
  }
});
