/**
 * Kickback (docs/gradient-sources.md): the two-class labelling it runs on, the configs it refuses,
 * what each stage sends down (checked against the definition by hand), that a net with one stage
 * below the output is backprop, and runs through the stage workers (it learns; NATS equals threads;
 * lockstep repeat and resume are in test/gradient-runs.test.ts).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { SequentialStages } from '../src/lab/bench/sequential.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { relabel } from '../src/data/index.js';
import { resolveConfig } from '../src/config/resolve.js';
import type { Config, ConfigInput } from '../src/config/schema.js';
import type { Batch } from '../src/data/index.js';
import { train } from '../src/train.js';
import { assertSameStates, checkpointStates, configProblems } from './helpers/run-files.js';
import { withNatsServer } from './helpers/nats-server.js';
import { runId } from './helpers/stage-processes.js';
import { copyBatch, data, trainingBatches, twoClassConfig } from './helpers/fixtures.js';
import { weightsNow } from './helpers/weights-now.js';

before(async () => {
  await tf.setBackend('wasm');
});

const dense = (units: number, batchNorm = true) => ({ type: 'dense' as const, units, batchNorm, activation: 'relu' as const });
const twoClass = (mode: Config['mode'], hidden: ConfigInput['model']['layers'], train: Partial<ConfigInput['train']> = {}): Config =>
  twoClassConfig(mode, { schedule: 'lockstep', ...train }, hidden);

/** Training batches of the low-high task (digits 0-4: 0, 5-9: 1). */
function twoClassBatches(count: number): Batch[] {
  return trainingBatches(count, 32).map((b) => ({ ...b, labels: b.labels.map((c) => (c >= 5 ? 1 : 0)) }));
}

async function trained(config: Config, steps: number): Promise<Float32Array[][]> {
  const stages = new SequentialStages(stageSpecs(config, 1));
  try {
    const batches = twoClassBatches(steps);
    for (let step = 0; step < steps; step++) await stages.step(copyBatch(batches[step]), step);
    return stages.stages.map((s) => weightsNow(s.net));
  } finally {
    stages.dispose();
  }
}

test('labels low-high and odd-even: two classes from the ten, the images shared', () => {
  const d = data();
  const low = relabel(d, 'low-high');
  const odd = relabel(d, 'odd-even');
  for (let i = 0; i < 200; i++) {
    assert.equal(low.train.labels[i], d.train.labels[i] >= 5 ? 1 : 0);
    assert.equal(odd.test.labels[i], d.test.labels[i] % 2);
  }
  assert.equal(low.train.images, d.train.images);
  assert.equal(relabel(d, 'classes'), d);
});

test('kickback refuses a task that is not two classes, and --labels makes one', () => {
  const problems = configProblems;
  assert.match(problems({ mode: 'kickback' }), /labels: mode kickback needs one error per example.*--labels low-high/);
  // in a config file, labels alone: the model is the file's (the --labels flag sets classes and units too)
  assert.match(problems({}, { labels: 'odd-even' }), /model\.classes: labels 'odd-even' make two classes: model\.classes and the output layer's units must be 2, found 10/);
  const converted = resolveConfig({ preset: 'mnist-backprop', overrides: { mode: 'kickback', labels: 'low-high' } });
  assert.equal(converted.model.classes, 2);
  assert.deepEqual(converted.model.layers.at(-1), { ...converted.model.layers.at(-1), units: 2 });
  assert.equal(resolveConfig({ preset: 'mnist-kickback' }).labels, 'low-high');
});

test('kickback with one stage below the output is backprop, bit for bit (that stage gets e Wᵀ exactly)', async () => {
  const hidden = [dense(32)];
  const backprop = await trained(twoClass('backprop', hidden), 6);
  const kickback = await trained(twoClass('kickback', hidden), 6);
  assert.deepEqual(kickback, backprop);
  const deeper = [dense(32), dense(16)];
  assert.notDeepEqual((await trained(twoClass('kickback', deeper), 6))[0], (await trained(twoClass('backprop', deeper), 6))[0]);
});

test('kickback sends down β·κ (κ_j = Σ_k w_jk·1[k active]) from the stage below the output, and e W from the last, with e beside each', async () => {
  const config = twoClass('kickback', [dense(16, false), dense(8, false)]);
  const stages = new SequentialStages(stageSpecs(config, 1));
  try {
    const [batch] = twoClassBatches(1);
    const x = tf.tensor2d(batch.x.slice(), [batch.size, 784]);
    const [[w0, b0], [w1, b1], [w2, b2]] = stages.stages.map((s) => s.net.params.map((p) => p.clone()));
    const inboxes = (stages as unknown as { inboxes: { pushBackward(m: unknown): void }[] }).inboxes;
    const down: { gradient: Float32Array; error: Float32Array }[][] = [[], []];
    inboxes.slice(0, 2).forEach((inbox, s) => {
      const push = inbox.pushBackward.bind(inbox);
      inbox.pushBackward = (m: { gradient: Float32Array; error: Float32Array }) => {
        down[s].push({ gradient: m.gradient.slice(), error: m.error.slice() });
        push(m);
      };
    });
    await stages.step(copyBatch(batch), 0);
    // by hand, from the weights before the step
    const h0 = tf.relu(tf.add(tf.matMul(x, w0 as tf.Tensor2D), b0));
    const z1 = tf.add(tf.matMul(h0, w1 as tf.Tensor2D), b1);
    const logits = tf.add(tf.matMul(tf.relu(z1), w2 as tf.Tensor2D), b2);
    const onehot = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), 2);
    const e = tf.div(tf.sub(tf.softmax(logits), onehot), batch.size) as tf.Tensor2D;
    const beta = tf.slice(e, [0, 1], [batch.size, 1]);
    const kappa = tf.matMul(tf.cast(tf.greater(z1, 0), 'float32'), w1 as tf.Tensor2D, false, true);
    const close = (got: Float32Array, want: tf.Tensor, what: string) => {
      const w = want.dataSync();
      assert.equal(got.length, w.length, what);
      const scale = Math.max(...Array.from(w, Math.abs));
      got.forEach((v, i) => assert.ok(Math.abs(v - w[i]) <= 1e-5 * scale + 1e-9, `${what}[${i}]: ${v} against ${w[i]}`));
    };
    assert.equal(down[1].length, 1);
    assert.equal(down[0].length, 1);
    close(down[1][0].error, e, 'e from the last stage');
    close(down[1][0].gradient, tf.matMul(e, w2 as tf.Tensor2D, false, true), 'e W2ᵀ');
    close(down[0][0].error, e, 'e passed on by stage 1');
    close(down[0][0].gradient, tf.mul(beta, kappa), 'β·κ');
    // not what backprop would send (e W2ᵀ through stage 1)
    const exact = tf.matMul(tf.mul(tf.matMul(e, w2 as tf.Tensor2D, false, true), tf.cast(tf.greater(z1, 0), 'float32')), w1 as tf.Tensor2D, false, true).dataSync();
    assert.ok(down[0][0].gradient.some((v, i) => Math.abs(v - exact[i]) > 1e-4 * Math.max(...Array.from(exact, Math.abs))));
  } finally {
    stages.dispose();
  }
});


const runConfig = twoClass('kickback', [dense(64), dense(32)], { maxSteps: 24 });

// lockstep repeat and resume: test/gradient-runs.test.ts, with the other sources
test('kickback through the stage workers learns the two classes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-kick-'));
  try {
    const whole = await train({ ...runConfig, out: join(root, 'whole') }, { data: data() });
    assert.equal(whole.steps, 24);
    // two classes of about half the digits each: 24 steps of batch 32 already do far better than a guess
    assert.ok(whole.testAccuracy! > 0.75, `test accuracy ${whole.testAccuracy}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('kickback over NATS (e beside each target, checked by the links) equals kickback over threads; its probe: cosine 1 below the output, less below that', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-kick-'));
  const probeLines = (dir: string) =>
    readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'probe') as { step: number; cosine: (number | null)[] }[];
  try {
    await withNatsServer({}, async (server) => {
      const config = { ...runConfig, train: { ...runConfig.train, maxSteps: 8, probeEvery: 4 } };
      await train({ ...config, out: join(root, 'threads') }, { data: data() });
      await train({ ...config, out: join(root, 'processes') }, { data: data(), nats: { stages: 'spawn', url: server.url, runId: runId('kick-same'), credentials: {} } });
      assertSameStates(checkpointStates(join(root, 'threads')), checkpointStates(join(root, 'processes')));
      const lines = probeLines(join(root, 'threads'));
      assert.deepEqual(lines.map((l) => l.step), [4, 8]);
      for (const { cosine } of lines) {
        assert.ok(Math.abs(cosine[1]! - 1) < 1e-5, `stage 1 (below the output): ${cosine[1]}`);
        assert.ok(Number.isFinite(cosine[0]) && cosine[0]! < 0.9999 && cosine[0]! >= -1, `stage 0: ${cosine[0]}`);
      }
      assert.deepEqual(probeLines(join(root, 'processes')).map((l) => l.cosine), lines.map((l) => l.cosine));
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
