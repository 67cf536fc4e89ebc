import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train, resume, RunError } from '../src/train.js';
import type { Config } from '../src/config/schema.js';
import { decodeStageState, type StageState } from '../src/stage/stage-state.js';
import type { Manifest } from '../src/checkpoint/manifest.js';
import { data, smallConfig } from './helpers/fixtures.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'synthgrad-rel-'));
}

function withOut(config: Config, out: string): Config {
  return { ...config, out };
}

function manifest(run: string): Manifest {
  return JSON.parse(readFileSync(join(run, 'checkpoint', 'manifest.json'), 'utf8'));
}

function checkpointStates(run: string): StageState[] {
  const m = manifest(run);
  return m.stages.map((s) => {
    const file = join(run, 'checkpoint', s.file);
    return decodeStageState(readFileSync(file), file);
  });
}

function metricLines(run: string): Record<string, unknown>[] {
  return readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('lockstep: stopped at step 20 and resumed gives bit-identical state to an uninterrupted run', async () => {
  const root = tempDir();
  try {
    const config = smallConfig({ mode: 'cdni', train: { schedule: 'lockstep', maxSteps: 40, updateProbability: 0.5, logEvery: 10 } });
    const whole = await train(withOut(config, join(root, 'whole')), { data: data() });
    assert.equal(whole.steps, 40);
    assert.equal(whole.stopped, false);

    const stop = new AbortController();
    const first = await train(withOut(config, join(root, 'split')), {
      data: data(),
      signal: stop.signal,
      onProgress: (p) => p.step >= 20 && stop.abort(),
    });
    assert.equal(first.stopped, true);
    assert.equal(first.steps, 20);
    assert.equal(manifest(join(root, 'split')).progress.step, 20);
    const second = await resume(join(root, 'split'), { data: data() });
    assert.equal(second.steps, 40);
    assert.equal(second.resumedFrom, 20);
    assert.equal(second.stopped, false);

    const a = checkpointStates(join(root, 'whole'));
    const b = checkpointStates(join(root, 'split'));
    assert.equal(a.length, 3);
    for (let s = 0; s < a.length; s++) {
      assert.deepEqual(b[s].weights, a[s].weights, `stage ${s} weights`);
      assert.deepEqual(b[s].optimizer, a[s].optimizer, `stage ${s} optimizer`);
      assert.deepEqual(b[s].synthesizer, a[s].synthesizer, `stage ${s} synthesizer`);
      assert.deepEqual(b[s].updateStream, a[s].updateStream, `stage ${s} update draws`);
    }
    assert.equal(second.testAccuracy, whole.testAccuracy);
    // the resumed run's metrics continue the first one's: the same training-loss lines as one run
    const losses = (run: string) => metricLines(run).filter((l) => l.type === 'train').map((l) => [l.step, l.loss]);
    assert.deepEqual(losses(join(root, 'split')), losses(join(root, 'whole')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a checkpoint on request is written at the step it was asked for', async () => {
  const root = tempDir();
  try {
    const config = smallConfig({ mode: 'cdni', train: { schedule: 'async', maxSteps: 12 } });
    let step = 0;
    const summary = await train(withOut(config, join(root, 'run')), {
      data: data(),
      onProgress: (p) => (step = p.step),
      checkpointRequested: () => {
        step += 1;
        return step === 7;
      },
    });
    assert.equal(summary.steps, 12);
    // the run-end checkpoint (step 12) and the one before it, taken on request, are kept
    assert.deepEqual(readdirSync(join(root, 'run', 'checkpoint')).filter((f) => f.startsWith('step-')).sort(), ['step-00000007', 'step-00000012']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a stage that throws mid-run is restarted from its checkpoint and the run reaches the undisturbed accuracy', async () => {
  const root = tempDir();
  try {
    const config = smallConfig({ mode: 'cdni', train: { schedule: 'lockstep', maxSteps: 500, batchSize: 64, checkpointEvery: 100 } });
    const calm = await train(withOut(config, join(root, 'calm')), { data: data() });
    const hit = await train(withOut(config, join(root, 'hit')), { data: data(), fault: { stage: 1, step: 250, kind: 'throw' } });
    assert.equal(calm.restarts, 0);
    assert.equal(hit.restarts, 1);
    assert.equal(hit.lostSteps, 1);
    assert.equal(hit.steps, 500);
    assert.ok(Math.abs(hit.testAccuracy! - calm.testAccuracy!) <= 0.005, `undisturbed ${calm.testAccuracy}, restarted ${hit.testAccuracy}`);
    const restart = metricLines(join(root, 'hit')).find((l) => l.type === 'restart');
    assert.ok(restart, 'the restart is recorded in metrics.jsonl');
    assert.equal(restart.stage, 1);
    assert.equal(restart.from, 200);
    assert.match(String(restart.error), /injected fault/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('async: a stage worker that exits is replaced, its neighbours re-wired, and the run finishes', async () => {
  const root = tempDir();
  try {
    const config = smallConfig({ mode: 'dni', synthesizer: { hiddenLayers: [32] }, train: { schedule: 'async', window: 4, maxSteps: 150, checkpointEvery: 50 } });
    const summary = await train(withOut(config, join(root, 'run')), { data: data(), fault: { stage: 2, step: 80, kind: 'exit' } });
    assert.equal(summary.restarts, 1);
    assert.equal(summary.steps, 150);
    assert.ok(summary.lostSteps >= 1 && summary.lostSteps <= 4, `lost ${summary.lostSteps}`);
    assert.ok(summary.testAccuracy! > 0.2, `test accuracy ${summary.testAccuracy} (chance is 0.1)`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a stage that keeps failing stops the run with a clear error, its checkpoint kept and metrics intact', async () => {
  const root = tempDir();
  const run = join(root, 'run');
  try {
    const config = smallConfig({ mode: 'cdni', train: { schedule: 'lockstep', maxSteps: 100, checkpointEvery: 20, maxRestarts: 0 } });
    await assert.rejects(train(withOut(config, run), { data: data(), fault: { stage: 1, step: 30, kind: 'throw' } }), (error: unknown) => {
      assert.ok(error instanceof RunError);
      assert.match(error.message, /stage 1 failed: .*injected fault .*step 30/);
      assert.match(error.message, /last checkpoint \(step 20\) is kept: continue with synthgrad train --resume/);
      return true;
    });
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'));
    assert.equal(summary.stopped, true);
    assert.match(summary.error, /stage 1 failed/);
    assert.equal(manifest(run).progress.step, 20);
    for (const line of readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n')) JSON.parse(line);
    assert.ok(existsSync(join(run, 'report.html')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a NaN in a stage stops the run naming the stage and step; it is not retried', async () => {
  const root = tempDir();
  try {
    const config = smallConfig({ mode: 'cdni', train: { schedule: 'lockstep', maxSteps: 30 } });
    await assert.rejects(train(withOut(config, join(root, 'run')), { data: data(), fault: { stage: 1, step: 5, kind: 'nan' } }), (error: unknown) => {
      assert.ok(error instanceof RunError);
      assert.match(error.message, /non-finite value \(NaN or Inf\) in stage 1's activations at step 5/);
      assert.equal(error.summary.restarts, 0);
      return true;
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('with skipNonFinite the batch is dropped, counted, and training goes on', async () => {
  const root = tempDir();
  try {
    for (const schedule of ['lockstep', 'async'] as const) {
      const config = smallConfig({ mode: 'cdni', train: { schedule, maxSteps: 30, skipNonFinite: true } });
      const summary = await train(withOut(config, join(root, schedule)), { data: data(), fault: { stage: 1, step: 5, kind: 'nan' } });
      assert.equal(summary.steps, 30);
      assert.deepEqual(summary.perStage.map((s) => s.droppedNonFinite), [0, 1, 0]);
      assert.equal(summary.perStage[2].updates, 29, 'the stage above never saw the dropped batch');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
