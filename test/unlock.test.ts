import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { Stage } from '../src/stage/stage.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { ThreadStageHost } from '../src/transport/threads/thread-host.js';
import { stageSpecs, type StageSpec } from '../src/stage/stage-spec.js';
import type { BackwardMessage, ForwardMessage, InputMessage, ReportMessage, StageStats } from '../src/stage/protocol.js';
import { decodeStageState, type StageState } from '../src/stage/stage-state.js';
import { resolveConfig } from '../src/config/resolve.js';
import { ConfigError } from '../src/config/errors.js';
import { train } from '../src/train.js';
import { controlWireValidator } from '../src/transport/nats/nats-protocol.js';
import { stream } from '../src/stage/rng.js';
import type { Config } from '../src/config/schema.js';
import { problems } from './helpers/config-error.js';
import { data, smallConfig, trainingBatches, copyBatch } from './helpers/fixtures.js';

before(async () => {
  await tf.setBackend('wasm');
});

const unlocked = (over: Parameters<typeof smallConfig>[0] = {}) =>
  smallConfig({ mode: 'cdni', syntheticInputs: { hiddenLayers: [32], batchNorm: true }, ...over });

function recordingLinks() {
  const sent = { forward: [] as ForwardMessage[], backward: [] as BackwardMessage[], reports: [] as ReportMessage[] };
  return { sent, links: { forward: (m: ForwardMessage) => sent.forward.push(m), backward: (m: BackwardMessage) => sent.backward.push(m), report: (m: ReportMessage) => sent.reports.push(m) } };
}

test('an unlocked stage trains on I(x_t) at once; the real h[s-1]_t then trains I and goes up', async () => {
  const spec = stageSpecs(unlocked(), 1)[1];
  assert.ok(spec.syntheticInputs && spec.unlocked);
  const { sent, links } = recordingLinks();
  const stage = new Stage(spec, links);
  const rng = stream('test', 'unlock');
  // the stage below is a fixed map of x: h = relu(x[:, :64] - 0.3)
  const batch = (step: number) => {
    const x = new Float32Array(16 * 784).map(() => rng());
    const h = new Float32Array(16 * 64).map((_, i) => Math.max(0, x[Math.floor(i / 64) * 784 + (i % 64)] - 0.3));
    const labels = new Uint8Array(16).map((_, i) => i % 10);
    const input: InputMessage = { kind: 'input', step, rows: 16, activations: x, labels };
    const real: ForwardMessage = { kind: 'forward', step, rows: 16, activations: h, labels };
    return { input, real };
  };
  const losses: (number | null)[] = [];
  try {
    const runningBefore = (await stage.net.getWeights()).slice(stage.net.params.length);
    const first = batch(0);
    assert.equal(stage.ready(first.real), false, 'the real input waits for the stage pass on x_t');
    await stage.input(first.input);
    assert.equal(stage.ready(first.real), true);
    assert.equal(sent.forward.length, 0, 'nothing goes up from the pass on I(x_t)');
    assert.equal(sent.backward.length, 1, 'its target goes down at once');
    assert.equal(stage.counters.updates, 1);
    assert.deepEqual((await stage.net.getWeights()).slice(stage.net.params.length), runningBefore, 'BatchNorm statistics follow the real inputs only');
    await stage.forward(first.real);
    assert.equal(sent.forward.length, 1, 'the real h[s]_t goes up');
    assert.equal(sent.forward[0].activations.length, 16 * 32);
    assert.deepEqual(sent.reports.map((r) => r.kind), ['done']);
    assert.notDeepEqual((await stage.net.getWeights()).slice(stage.net.params.length), runningBefore);
    losses.push((await stage.syntheticInput!.takeLossMean()));
    for (let step = 1; step < 150; step++) {
      const b = batch(step);
      await stage.input(b.input);
      await stage.forward(b.real);
      await stage.backward({ kind: 'backward', step: step - 1, gradient: null, synthetic: true });
      if (step % 50 === 49) losses.push((await stage.syntheticInput!.takeLossMean()));
    }
    assert.equal(stage.counters.updates, 150, 'θ_s updated once per batch, on the synthetic input');
    const [start, , , end] = losses as number[];
    assert.ok(end < start / 3, `I's loss ${start.toFixed(3)} -> ${end.toFixed(3)}`);
  } finally {
    stage.dispose();
  }
});

interface Result {
  states: StageState[];
  stats: StageStats[][];
}

/** Lockstep (window 1) or async run of `steps` batches from `from`, checkpointed at each of `at`. */
async function run(config: Config, window: number, steps: number, at: number[], dir: string, restore?: string[], from = 0): Promise<Result> {
  const specs: StageSpec[] = stageSpecs(config, window).map((s, i) => ({ ...s, ...(restore && { restore: restore[i] }) }));
  const batches = trainingBatches(from + steps, 32);
  const pipeline = await Pipeline.start(specs, {}, new ThreadStageHost());
  const result: Result = { states: [], stats: [] };
  try {
    for (let step = from; step < from + steps; step++) {
      await pipeline.credit(window);
      pipeline.feed(copyBatch(batches[step]), step);
      if (at.includes(step + 1)) {
        const files = specs.map((s) => join(dir, `step${step + 1}-stage${s.index}.msgpack`));
        await pipeline.checkpoint(files, step + 1);
        result.stats.push(await pipeline.stats());
        result.states = files.map((f) => decodeStageState(readFileSync(f), f));
      }
    }
    await pipeline.drain();
  } finally {
    await pipeline.stop();
  }
  return result;
}

test('lockstep complete unlock: two runs are bit-identical (weights, synthesizers, input models), and resuming from a checkpoint is too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-unlock-'));
  try {
    const config = unlocked({ train: { seed: 11, updateProbability: 0.75 } });
    const a = await run(config, 1, 30, [10, 20, 30], join(dir, ''));
    const bDir = mkdtempSync(join(dir, 'b-'));
    const b = await run(config, 1, 30, [30], bDir);
    assert.deepEqual(a.states.map((s) => s.inputModel === null), [true, false, false]);
    for (const [i, state] of a.states.entries()) {
      const other = b.states[i];
      assert.deepEqual(state.weights, other.weights, `stage ${i} weights`);
      assert.deepEqual(state.synthesizer, other.synthesizer, `stage ${i} synthesizer`);
      assert.deepEqual(state.inputModel, other.inputModel, `stage ${i} input model`);
    }
    // the real inputs reach I[s]: stage 1's input model loss falls
    const loss = (r: Result, k: number, s: number) => r.stats[k][s].inputModelLoss!;
    assert.equal(a.stats[0][0].inputModelLoss, undefined);
    assert.ok(loss(a, 2, 1) < loss(a, 0, 1), `stage 1 input model loss ${loss(a, 0, 1)} -> ${loss(a, 2, 1)}`);
    // resume from the checkpoint of step 10: ends where the uninterrupted run did
    const cDir = mkdtempSync(join(dir, 'c-'));
    const restore = [0, 1, 2].map((s) => join(dir, `step10-stage${s}.msgpack`));
    const c = await run(config, 1, 20, [30], cDir, restore, 10);
    for (const [i, state] of a.states.entries()) {
      assert.deepEqual(c.states[i].weights, state.weights, `stage ${i} weights after resume`);
      assert.deepEqual(c.states[i].inputModel, state.inputModel, `stage ${i} input model after resume`);
      assert.deepEqual(c.states[i].synthesizer, state.synthesizer, `stage ${i} synthesizer after resume`);
    }
    // another seed gives other input models
    const d = await run(unlocked({ train: { seed: 12, updateProbability: 0.75 } }), 1, 10, [10], mkdtempSync(join(dir, 'd-')));
    assert.notDeepEqual(d.states[1].inputModel, a.states[1].inputModel);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('async complete unlock with a window of 4 finishes every step (bounded credits, no deadlock)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-unlock-async-'));
  try {
    const r = await run(unlocked({ train: { schedule: 'async' } }), 4, 24, [24], dir);
    assert.equal(r.states.length, 3);
    assert.deepEqual(r.stats[0].map((s) => s.updates), [24, 24, 24]);
    assert.ok(r.stats[0][2].inputModelLoss! > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('synthetic inputs: bad configs are refused with the field and what to do', async () => {
  const over = (overrides: Record<string, unknown>) => () => resolveConfig({ preset: 'mnist-unlocked', overrides });
  assert.match(problems(over({ mode: 'backprop' })), /syntheticInputs: synthetic inputs need synthetic gradients.*use mode dni or cdni/);
  assert.match(problems(over({ train: { schedule: 'pipelined' } })), /syntheticInputs: .*lockstep or async, not pipelined/);
  assert.match(problems(over({ placement: 'process' })), /syntheticInputs: .*worker threads only/);
  assert.match(problems(over({ backend: 'tensorflow' })), /syntheticInputs: .*worker threads only/);
  assert.match(problems(over({ train: { skipNonFinite: true } })), /syntheticInputs: .*skipNonFinite/);
  assert.match(problems(over({ stages: [[0, 1, 2, 3]] })), /syntheticInputs: .*at least 2 stages/);
  assert.match(problems(over({ syntheticInputs: { hiddenLayers: [0], depth: 2 } })), /syntheticInputs\.hiddenLayers\[0\]: .*>0[\s\S]*syntheticInputs\.depth: unknown field/);
  const config = resolveConfig({ preset: 'mnist-unlocked' });
  assert.deepEqual(stageSpecs(config, 1).map((s) => s.syntheticInputs !== null), [false, true, true, true]);
  await assert.rejects(
    train(config, { nats: { stages: 'join', url: 'nats://127.0.0.1:1' } }),
    (e: Error) => e instanceof ConfigError && /--transport nats[\s\S]*worker threads only/.test(e.message),
  );
});

test('a stage process over NATS refuses a spec with synthetic inputs', async () => {
  const spec = stageSpecs(resolveConfig({ preset: 'mnist-unlocked' }), 1)[1];
  const limits = { maxRows: 128 };
  const assign = (s: StageSpec) => ({ kind: 'assign', instance: 'i1', spec: s, heartbeatMs: 1000, orchestratorTimeoutMs: 5000, reconnectTimeoutMs: 5000, limits });
  assert.throws(() => controlWireValidator(1)(assign(spec)), /spec\.syntheticInputs: .*worker threads only/);
  assert.doesNotThrow(() => controlWireValidator(1)(assign({ ...spec, syntheticInputs: null })));
});

test('async complete unlock: a stage worker that exits is replaced with its data link, and the run finishes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-unlock-restart-'));
  try {
    const config = unlocked({ train: { schedule: 'async', window: 4, maxSteps: 60, checkpointEvery: 20 } });
    const summary = await train({ ...config, out: join(root, 'run') }, { data: data(), fault: { stage: 1, step: 30, kind: 'exit' } });
    assert.equal(summary.restarts, 1);
    assert.equal(summary.steps, 60);
    assert.deepEqual(summary.perStage.map((s) => s.inputModelLoss !== undefined), [false, true, true]);
    assert.ok(summary.testAccuracy! > 0.2, `test accuracy ${summary.testAccuracy} (chance is 0.1)`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
