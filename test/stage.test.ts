import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { Stage } from '../src/stage/stage.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import type { BackwardMessage, ForwardMessage, ReportMessage } from '../src/stage/protocol.js';
import { Synthesizer } from '../src/stage/synthesizer.js';
import { stream } from '../src/stage/rng.js';
import { smallConfig } from './helpers/fixtures.js';

before(async () => {
  await tf.setBackend('wasm');
});

function recordingLinks() {
  const sent = { forward: [] as ForwardMessage[], backward: [] as BackwardMessage[], reports: [] as ReportMessage[] };
  return { sent, links: { forward: (m: ForwardMessage) => sent.forward.push(m), backward: (m: BackwardMessage) => sent.backward.push(m), report: (m: ReportMessage) => sent.reports.push(m) } };
}

function forwardOf(step: number, rows: number, units: number, rng: () => number): ForwardMessage {
  const activations = new Float32Array(rows * units).map(() => rng());
  const labels = new Uint8Array(rows).map((_, i) => i % 10);
  return { kind: 'forward', step, rows, activations, labels };
}

for (const mode of ['dni', 'cdni'] as const) {
  test(`${mode}: a zero-initialised synthesizer makes the first update of its stage zero`, async () => {
    const spec = stageSpecs(smallConfig({ mode }), 1)[1];
    const { sent, links } = recordingLinks();
    const stage = new Stage(spec, links);
    try {
      const before = (await stage.net.getWeights());
      await stage.forward(forwardOf(0, 16, spec.inputUnits, stream('t', 'x')));
      const after = (await stage.net.getWeights());
      // the kernel and BatchNorm scale/shift are untouched; only BatchNorm's running statistics moved
      for (let i = 0; i < stage.net.params.length; i++) assert.deepEqual(after[i], before[i], `parameter ${i} changed`);
      assert.equal(stage.counters.updates, 1);
      assert.equal(sent.forward.length, 1);
      assert.equal(sent.backward.length, 1);
      assert.ok(sent.backward[0].synthetic);
      assert.ok(sent.backward[0].gradient!.every((v) => v === 0), 'the target sent down should be zero');
    } finally {
      stage.dispose();
    }
  });
}

test('dni: once its synthesizer has learned, the stage updates and the target trains the synthesizer', async () => {
  const spec = stageSpecs(smallConfig({ mode: 'cdni' }), 1)[1];
  const { sent, links } = recordingLinks();
  const stage = new Stage(spec, links);
  const rng = stream('t', 'y');
  try {
    const initial = (await stage.net.getWeights());
    for (let step = 0; step < 3; step++) {
      await stage.forward(forwardOf(step, 16, spec.inputUnits, rng));
      const target = new Float32Array(16 * 32).map(() => rng() - 0.5);
      await stage.backward({ kind: 'backward', step, gradient: target, synthetic: true });
    }
    assert.equal(stage.counters.synthesizerUpdates, 3);
    const { synthesizerLoss: loss, synthesizerCosine: cosine } = (await stage.takeSourceStats());
    assert.ok(loss !== null && loss > 0);
    assert.ok(cosine !== null && Number.isFinite(cosine));
    assert.notDeepEqual((await stage.net.getWeights())[0], initial[0]);
    assert.deepEqual(
      sent.reports.filter((r) => r.kind === 'done').map((r) => (r as { step: number }).step),
      [0, 1, 2],
    );
  } finally {
    stage.dispose();
  }
});

test('updateProbability: a skipped stage keeps its weights and still sends its true gradient down', async () => {
  const spec = { ...stageSpecs(smallConfig({ mode: 'dni' }), 1)[2], updateProbability: 1e-9 };
  const { sent, links } = recordingLinks();
  const stage = new Stage(spec, links);
  try {
    const before = (await stage.net.getWeights());
    await stage.forward(forwardOf(0, 8, spec.inputUnits, stream('t', 'z')));
    assert.equal(stage.counters.skippedUpdates, 1);
    assert.equal(stage.counters.updates, 0);
    // the stage below trains its synthesizer on it
    assert.ok(sent.backward[0].gradient && sent.backward[0].gradient.some((v) => v !== 0));
    assert.equal(sent.backward[0].synthetic, false);
    assert.deepEqual((await stage.net.getWeights()).slice(0, stage.net.params.length), before.slice(0, stage.net.params.length));
    // the last stage still gives the batch's loss: with its done, down with the true gradient
    assert.equal(sent.reports.filter((r) => r.kind === 'done').length, 0);
    assert.deepEqual(sent.backward[0].done?.map((d) => d.stage), [2]);
    assert.ok(Number.isFinite(sent.backward[0].done![0].loss));
  } finally {
    stage.dispose();
  }
});

test('a stage leaks no tensors over many steps', async () => {
  const spec = stageSpecs(smallConfig({ mode: 'cdni' }), 1)[1];
  const { links } = recordingLinks();
  const stage = new Stage(spec, links);
  const rng = stream('t', 'leak');
  try {
    const step = async (t: number) => {
      await stage.forward(forwardOf(t, 8, spec.inputUnits, rng));
      await stage.backward({ kind: 'backward', step: t, gradient: new Float32Array(8 * 32).fill(0.01), synthetic: true });
    };
    await step(0);
    const tensors = tf.memory().numTensors;
    for (let t = 1; t < 20; t++) await step(t);
    assert.equal(tf.memory().numTensors, tensors);
  } finally {
    stage.dispose();
  }
});

test("a synthesizer's loss falls on a fixed target", async () => {
  const rng = stream('t', 'synth');
  const synth = new Synthesizer({
    shape: [32], kernelSize: 5, conditioned: true, classes: 10, hiddenLayers: [64], batchNorm: false,
    learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, rng,
  });
  const h = tf.tensor2d(new Float32Array(64 * 32).map(() => rng()), [64, 32]);
  const labels = tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32'), 10), 'float32') as tf.Tensor2D;
  // a gradient of a mean-over-the-batch loss: each row is 1/64 of an example's own gradient
  const target = tf.tensor2d(new Float32Array(64 * 32).map(() => (rng() - 0.5) / 64), [64, 32]);
  try {
    const zero = synth.predict(h, labels);
    assert.equal(tf.max(tf.abs(zero)).dataSync()[0], 0, 'a fresh synthesizer predicts zero');
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) losses.push((await synth.train(h, labels, target, zero)).loss);
    zero.dispose();
    assert.ok(losses[59] < 0.2 * losses[0], `loss went from ${losses[0]} to ${losses[59]}`);
    const used = synth.predict(h, labels);
    const { cosine } = await synth.train(h, labels, target, used);
    assert.ok(cosine > 0.9, `cosine of a fitted prediction with its target: ${cosine}`);
    used.dispose();
  } finally {
    tf.dispose([h, labels, target]);
    synth.dispose();
  }
});

test('a stage counts the synthesizer steps that predict again: those whose M has moved on since its prediction', async () => {
  const spec = stageSpecs(smallConfig({ mode: 'cdni' }), 2)[1];
  const stage = new Stage(spec, recordingLinks().links);
  const rng = stream('t', 'repredict');
  const target = () => new Float32Array(16 * 32).map(() => rng() - 0.5);
  try {
    // two batches in flight: the first target finds M as it predicted, the second after M's step on the first
    await stage.forward(forwardOf(0, 16, spec.inputUnits, rng));
    await stage.forward(forwardOf(1, 16, spec.inputUnits, rng));
    await stage.backward({ kind: 'backward', step: 0, gradient: target(), synthetic: true });
    assert.equal(stage.counters.synthesizerRepredictions, 0, 'M unchanged: the step from its prediction');
    await stage.backward({ kind: 'backward', step: 1, gradient: target(), synthetic: true });
    assert.equal(stage.counters.synthesizerRepredictions, 1, 'M stepped in between: it predicts again');
    // one at a time (lockstep order): never again
    await stage.forward(forwardOf(2, 16, spec.inputUnits, rng));
    await stage.backward({ kind: 'backward', step: 2, gradient: target(), synthetic: true });
    assert.deepEqual([stage.counters.synthesizerUpdates, stage.counters.synthesizerRepredictions], [3, 1]);
  } finally {
    stage.dispose();
  }
});

test("a linear synthesizer's step from its prediction is the step with a second forward pass (dense and conv, cDNI)", async () => {
  for (const shape of [[32], [6, 6, 4]]) {
    const make = () =>
      new Synthesizer({
        shape, kernelSize: 3, conditioned: true, classes: 10, hiddenLayers: [], batchNorm: false,
        learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, rng: stream('t', 'linear-synth'),
      });
    const [again, reused] = [make(), make()];
    const rng = stream('t', 'linear-synth-data');
    const size = shape.reduce((a, b) => a * b, 1);
    const h = tf.tensor(new Float32Array(64 * size).map(() => rng()), [64, ...shape]);
    const labels = tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32'), 10), 'float32') as tf.Tensor2D;
    const target = tf.tensor(new Float32Array(64 * size).map(() => (rng() - 0.5) / 64), [64, ...shape]);
    try {
      for (let i = 0; i < 5; i++) {
        const [a, b] = [again.predict(h, labels), reused.predict(h, labels)];
        const stepA = await again.train(h, labels, target, a);
        const stepB = await reused.train(h, labels, target, b, b);
        tf.dispose([a, b]);
        assert.ok(Math.abs(stepA.loss - stepB.loss) <= 1e-6 * Math.max(stepA.loss, 1e-12), `[${shape}] loss ${stepA.loss} against ${stepB.loss}`);
      }
      const [wa, wb] = [await again.net.getWeights(), await reused.net.getWeights()];
      // batch 64: B·(y/B) is y exactly, so the two steps are the same bit for bit
      assert.deepEqual(wb, wa, `[${shape}] weights after 5 steps`);
      assert.ok(wa[0].some((v) => v !== 0), 'the synthesizer trained');
    } finally {
      tf.dispose([h, labels, target]);
      again.dispose();
      reused.dispose();
    }
  }
});

test('the same seed builds the same stage; another seed another one', async () => {
  const make = async (seed: number) => {
    const spec = stageSpecs(smallConfig({ mode: 'cdni', train: { seed } }), 1)[0];
    const stage = new Stage(spec, recordingLinks().links);
    const w = (await stage.net.getWeights())[0];
    stage.dispose();
    return w;
  };
  assert.deepEqual(await make(1), await make(1));
  assert.notDeepEqual(await make(1), await make(2));
});

test('stochastic updates: a stage that skips its update still sends its target down; its synthesizer trains only on its own updates', async () => {
  for (const index of [1, 2]) {
    const spec = stageSpecs(smallConfig({ mode: 'cdni', train: { updateProbability: 0.5 } }), 1)[index];
    const { sent, links } = recordingLinks();
    const stage = new Stage(spec, links);
    const rng = stream('t', 'p', index);
    const steps = 24;
    try {
      const before = (await stage.net.getWeights());
      for (let step = 0; step < steps; step++) {
        await stage.forward(forwardOf(step, 16, spec.inputUnits, rng));
        const units = spec.outputShape[0];
        if (index < 2) await stage.backward({ kind: 'backward', step, gradient: new Float32Array(16 * units).map(() => rng() - 0.5), synthetic: true });
      }
      const { updates, skippedUpdates, synthesizerUpdates } = stage.counters;
      assert.equal(updates + skippedUpdates, steps);
      assert.ok(updates > 4 && skippedUpdates > 4, `updates ${updates}, skipped ${skippedUpdates} of ${steps} at p = 0.5`);
      // every batch sends a real target down (the top stage: the true gradient), updated or not
      assert.equal(sent.backward.length, steps);
      assert.ok(sent.backward.every((m) => m.gradient !== null && m.gradient.length === 16 * spec.inputUnits));
      if (index < 2) assert.equal(synthesizerUpdates, updates, 'M[s] trains on the batches its stage updated on');
      assert.notDeepEqual((await stage.net.getWeights()), before);
    } finally {
      stage.dispose();
    }
  }
});

test('backprop: a NaN or Inf in the true gradient is caught in the parameter gradients (thrown, or dropped with skipNonFinite)', async () => {
  for (const bad of [NaN, Infinity]) {
    for (const skipNonFinite of [false, true]) {
      const spec = { ...stageSpecs(smallConfig({ mode: 'backprop' }), 1)[0], skipNonFinite };
      const { sent, links } = recordingLinks();
      const stage = new Stage(spec, links);
      try {
        const params = () => stage.net.params.map((p) => p.dataSync().slice());
        const before = params();
        await stage.forward(forwardOf(0, 16, spec.inputUnits, stream('t', 'nan')));
        const width = sent.forward[0].activations.length / 16;
        const gradient = new Float32Array(16 * width).fill(0.01);
        gradient[5 * width + 3] = bad;
        const message: BackwardMessage = { kind: 'backward', step: 0, gradient, synthetic: false };
        if (!skipNonFinite) {
          await assert.rejects(stage.backward(message), /non-finite value \(NaN or Inf\) in stage 0's parameter gradients at step 0/);
          continue;
        }
        await stage.backward(message);
        assert.equal(stage.counters.droppedNonFinite, 1);
        assert.equal(stage.counters.updates, 0);
        assert.deepEqual(params(), before, 'a dropped batch must not update the stage');
        assert.deepEqual(sent.reports.at(-1), { kind: 'done', stage: 0, step: 0, dropped: 'here' });
      } finally {
        stage.dispose();
      }
    }
  }
});

/** Every stage of `config` in this thread, each with recording links, and a way to deliver what they sent. */
function chainOf(mode: 'backprop' | 'cdni') {
  const specs = stageSpecs(smallConfig({ mode }), 1);
  const recorded = specs.map(() => recordingLinks());
  const stages = specs.map((spec, s) => new Stage(spec, recorded[s].links));
  /** Hands every forward message up and every backward message down until none is left. */
  const deliver = async () => {
    for (let moved = true; moved; ) {
      moved = false;
      for (const [s, { sent }] of recorded.entries()) {
        for (let m = sent.forward.shift(); m; m = sent.forward.shift()) if (s + 1 < stages.length) (await stages[s + 1].forward(m), (moved = true));
        for (let m = sent.backward.shift(); m; m = sent.backward.shift()) if (s > 0) (await stages[s - 1].backward(m), (moved = true));
      }
    }
  };
  return { specs, recorded, stages, deliver };
}

test("the last stage's done, with the batch loss, goes down with its true gradient and the stage below reports it (backprop and cDNI)", async () => {
  for (const mode of ['backprop', 'cdni'] as const) {
    const { specs, recorded, stages, deliver } = chainOf(mode);
    try {
      const top = stages.length - 1;
      await stages[0].forward(forwardOf(0, 16, specs[0].inputUnits, stream('t', 'relay')));
      await deliver();
      const reports = recorded.flatMap(({ sent }) => sent.reports).filter((r) => r.kind === 'done');
      const relayed = (r: ReportMessage) => (r.kind === 'done' ? (r.relayed ?? []).map((d) => d.stage) : []);
      // one report per stage below the top; the one just below it carries the top's done
      const expected = Array.from({ length: top }, (_, s) => [s, s === top - 1 ? [top] : []]);
      assert.deepEqual(reports.map((r) => [r.kind === 'done' && r.stage, relayed(r)]).sort(), expected.sort(), mode);
      const withLoss = reports.flatMap((r) => (r.kind === 'done' ? [r, ...(r.relayed ?? [])] : [])).filter((d) => d.loss !== undefined);
      assert.equal(withLoss.length, 1, 'the batch loss is reported once');
      assert.equal(withLoss[0].stage, top);
      assert.equal(withLoss[0].rows, 16);
      assert.ok(Number.isFinite(withLoss[0].loss));
    } finally {
      for (const s of stages) s.dispose();
    }
  }
});
