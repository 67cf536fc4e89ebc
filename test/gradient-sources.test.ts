/**
 * The gradient sources beside synthetic gradients (docs/gradient-sources.md), stage by stage in this
 * thread (lockstep order): feedback alignment with the transposed weights is backprop, BP(λ) at
 * λ = 1 is backprop and at λ = 0 DNI (bit for bit), DFA's projections stay fixed and it learns.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { SequentialStages } from '../src/lab/bench/sequential.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { Stage } from '../src/stage/stage.js';
import { FeedbackAlignment, DirectFeedback, BpLambda } from '../src/stage/gradient/index.js';
import { lambdaAt } from '../src/stage/gradient/bp-lambda.js';
import type { Config } from '../src/config/schema.js';
import { copyBatch, smallConfig, trainingBatches } from './helpers/fixtures.js';
import { weightsNow } from './helpers/weights-now.js';

before(async () => {
  await tf.setBackend('wasm');
});

const STEPS = 12;
const batches = () => trainingBatches(STEPS, 32);

/** Trains `config` for STEPS lockstep steps in this thread; `prepare` may adjust the stages first. Returns every stage's weights. */
async function trained(config: Config, prepare: (stages: SequentialStages) => void = () => {}): Promise<Float32Array[][]> {
  const stages = new SequentialStages(stageSpecs(config, 1));
  try {
    prepare(stages);
    const data = batches();
    for (let step = 0; step < data.length; step++) await stages.step(copyBatch(data[step]), step);
    return stages.stages.map((s) => weightsNow(s.net));
  } finally {
    stages.dispose();
  }
}

const lockstep = (over: Parameters<typeof smallConfig>[0]) => smallConfig({ ...over, train: { schedule: 'lockstep', ...over?.train } });

test('fa: with each layer\'s own weights as its feedback matrix it is backprop, bit for bit; with its random matrices it is not', async () => {
  const backprop = await trained(lockstep({ mode: 'backprop' }));
  const mirrored = await trained(lockstep({ mode: 'fa' }), (stages) => stages.stages.forEach((s) => (s.source as FeedbackAlignment).mirrorKernels()));
  assert.deepEqual(mirrored, backprop);
  const random = await trained(lockstep({ mode: 'fa' }));
  assert.notDeepEqual(random[0], backprop[0]);
  assert.notDeepEqual(random[1], backprop[1]);
});

test('bp-lambda: λ = 1 is backprop and λ = 0 is DNI, bit for bit', async () => {
  const synthesizer = { hiddenLayers: [16], batchNorm: true };
  const backprop = await trained(lockstep({ mode: 'backprop' }));
  const one = await trained(lockstep({ mode: 'bp-lambda', synthesizer, lambda: { start: 1, end: 1, steps: 0 } }));
  assert.deepEqual(one, backprop);
  const dni = await trained(lockstep({ mode: 'dni', synthesizer }));
  const zero = await trained(lockstep({ mode: 'bp-lambda', synthesizer, lambda: { start: 0, end: 0, steps: 0 } }));
  assert.deepEqual(zero, dni);
  const half = await trained(lockstep({ mode: 'bp-lambda', synthesizer, lambda: { start: 1, end: 0, steps: 6 } }));
  assert.notDeepEqual(half[0], dni[0]);
  assert.notDeepEqual(half[0], backprop[0]);
});

test('bp-lambda: λ goes linearly from start to end over its steps, then stays', () => {
  const schedule = { start: 1, end: 0, steps: 100 };
  assert.deepEqual([0, 25, 50, 100, 500].map((t) => lambdaAt(schedule, t)), [1, 0.75, 0.5, 0, 0]);
  assert.equal(lambdaAt({ start: 0.3, end: 0.3, steps: 0 }, 1000), 0.3);
});

test('bp-lambda: the synthesizer trains on the true gradient and reports its loss and cosine', async () => {
  const config = lockstep({ mode: 'bp-lambda', lambda: { start: 1, end: 0, steps: 8 } });
  const stages = new SequentialStages(stageSpecs(config, 1));
  try {
    const data = batches();
    for (let step = 0; step < data.length; step++) await stages.step(copyBatch(data[step]), step);
    const source = stages.stages[0].source as BpLambda;
    assert.equal(source.counters.synthesizerUpdates, STEPS);
    const { synthesizerLoss, synthesizerCosine } = await stages.stages[0].takeSourceStats();
    assert.ok(synthesizerLoss !== null && synthesizerLoss > 0);
    assert.ok(synthesizerCosine !== null && synthesizerCosine > 0 && synthesizerCosine <= 1 + 1e-6);
  } finally {
    stages.dispose();
  }
});

test('dfa: every projection B[s] stays as drawn while the stages train, and comes back from a checkpoint', async () => {
  const config = lockstep({ mode: 'dfa' });
  const stages = new SequentialStages(stageSpecs(config, 1));
  try {
    const projections = () => stages.stages.slice(0, -1).map((s) => (s.source as DirectFeedback).projection.dataSync().slice());
    const drawn = projections();
    assert.equal(drawn.length, 2);
    const before = stages.stages.map((s) => weightsNow(s.net));
    const data = batches();
    for (let step = 0; step < data.length; step++) await stages.step(copyBatch(data[step]), step);
    assert.deepEqual(projections(), drawn);
    stages.stages.forEach((s, i) => assert.notDeepEqual(weightsNow(s.net)[0], before[i][0], `stage ${i} trained`));
    // a new stage from the checkpoint: the same B[s] (even with another seed, which would draw another)
    const states = await stages.states(STEPS);
    const spec = { ...stageSpecs({ ...config, train: { ...config.train, seed: 99 } }, 1)[1] };
    const other = new Stage(spec, { forward: () => {}, backward: () => {}, report: () => {} });
    try {
      const fresh = (other.source as DirectFeedback).projection.dataSync().slice();
      assert.notDeepEqual(fresh, drawn[1]);
      other.importState(states[1]);
      assert.deepEqual((other.source as DirectFeedback).projection.dataSync().slice(), drawn[1]);
      assert.deepEqual(states[1].feedback, [drawn[1]]);
    } finally {
      other.dispose();
    }
  } finally {
    stages.dispose();
  }
});

test('dfa: stages below the last send nothing down; each gets the error straight from the last stage', async () => {
  const config = lockstep({ mode: 'dfa' });
  const sent: { from: number; kind: string; rows: number }[] = [];
  const stages = new SequentialStages(stageSpecs(config, 1));
  try {
    const [batch] = batches();
    // wrap the links' deliveries through the inboxes: count what each stage received on its backward queue
    const inboxes = (stages as unknown as { inboxes: { backward: { gradient: Float32Array | null }[]; pushBackward(m: unknown): void }[] }).inboxes;
    inboxes.forEach((inbox, s) => {
      const push = inbox.pushBackward.bind(inbox);
      inbox.pushBackward = (m: { gradient: Float32Array | null }) => {
        sent.push({ from: s, kind: 'backward', rows: (m.gradient?.length ?? 0) / 10 });
        push(m);
      };
    });
    await stages.step(copyBatch(batch), 0);
    // stages 0 and 1 each got one message of rows x classes (the error e), none of rows x |h[s]|
    assert.deepEqual(sent, [{ from: 0, kind: 'backward', rows: 32 }, { from: 1, kind: 'backward', rows: 32 }]);
  } finally {
    stages.dispose();
  }
});

test('fa: the feedback matrices stay fixed and come back from a checkpoint; a checkpoint of another mode is refused', async () => {
  const config = lockstep({ mode: 'fa' });
  const stages = new SequentialStages(stageSpecs(config, 1));
  try {
    const matrices = () => stages.stages.map((s) => (s.source as FeedbackAlignment).feedback.filter((b) => b !== null).map((b) => b!.dataSync().slice()));
    const drawn = matrices();
    const data = batches();
    for (let step = 0; step < 4; step++) await stages.step(copyBatch(data[step]), step);
    assert.deepEqual(matrices(), drawn);
    const states = await stages.states(4);
    assert.deepEqual(states.map((s) => s.feedback), drawn);
    const backprop = new Stage(stageSpecs(lockstep({ mode: 'backprop' }), 1)[0], { forward: () => {}, backward: () => {}, report: () => {} });
    try {
      assert.throws(() => backprop.importState(states[0]), /another mode \(feedback matrices/);
    } finally {
      backprop.dispose();
    }
  } finally {
    stages.dispose();
  }
});
