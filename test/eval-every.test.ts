import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train, resume, recordMilestones } from '../src/train.js';
import { resolveConfig } from '../src/config/resolve.js';
import { configHash } from '../src/checkpoint/manifest.js';
import type { Config } from '../src/config/schema.js';
import type { Dataset } from '../src/data/index.js';
import type { AccuracyReached } from '../src/run/summary.js';
import { readRun } from '../src/lab/report/index.js';
import { chartData } from '../src/lab/report/chart-data.js';
import { ORCHESTRATOR_TID } from '../src/metrics/trace.js';
import { problems } from './helpers/config-error.js';
import { easySplit, smallConfig } from './helpers/fixtures.js';

test('train.evalEvery: a positive whole number, absent by default (the config hash of runs without it is unchanged)', () => {
  const plain = resolveConfig({});
  assert.equal('evalEvery' in plain.train, false);
  assert.doesNotMatch(JSON.stringify(plain), /evalEvery/);
  assert.equal(configHash(resolveConfig({ overrides: { train: { evalEvery: undefined } } })), configHash(plain));
  const every = resolveConfig({ overrides: { train: { evalEvery: 50 } } });
  assert.equal(every.train.evalEvery, 50);
  assert.notEqual(configHash(every), configHash(plain));
  for (const bad of [0, -1, 1.5, '5']) {
    assert.match(problems(() => resolveConfig({ overrides: { train: { evalEvery: bad } } })), /train\.evalEvery: /, `evalEvery ${bad}`);
  }
});

test('recordMilestones keeps the first evaluation that reached each accuracy, epoch end or mid-epoch', () => {
  const reached: Record<number, AccuracyReached> = {};
  recordMilestones(reached, 0.9, { epoch: 1, step: 100, elapsedSeconds: 1 });
  assert.deepEqual(reached, {});
  recordMilestones(reached, 0.96, { epoch: 1, step: 150, elapsedSeconds: 2 }); // mid-epoch
  assert.deepEqual(reached, { 0.95: { epoch: 1, step: 150, elapsedSeconds: 2 } });
  recordMilestones(reached, 0.975, { epoch: 1, step: 200, elapsedSeconds: 3 }); // the epoch end
  recordMilestones(reached, 0.94, { epoch: 2, step: 250, elapsedSeconds: 4 }); // a dip reaches nothing new
  recordMilestones(reached, 0.99, { epoch: 2, step: 300, elapsedSeconds: 5 });
  assert.deepEqual(reached, {
    0.95: { epoch: 1, step: 150, elapsedSeconds: 2 },
    0.97: { epoch: 1, step: 200, elapsedSeconds: 3 },
    0.98: { epoch: 2, step: 300, elapsedSeconds: 5 },
  });
});

/** 7 training steps of 32 per epoch; a test set large enough that evaluating it takes far longer than a step. */
const easyData: Dataset = { train: easySplit(224, 1), validation: easySplit(200, 2), test: easySplit(15_000, 3) };

/** Backprop, lockstep (repeatable), 2 epochs of 7 steps; with evalEvery 2: evaluations at steps 2, 4, 6, 8, 10 and 12 (7 and 14 end epochs). */
function config(out: string, evalEvery?: number): Config {
  return { ...smallConfig({ train: { epochs: 2, schedule: 'lockstep', logEvery: 2, ...(evalEvery && { evalEvery }) } }), out };
}

type Line = { type: string; step: number; epoch: number; testAccuracy: number; testLoss: number; elapsedSeconds: number; loss: number };
const lines = (run: string): Line[] => readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const ofType = (run: string, type: string) => lines(run).filter((l) => l.type === type);

test('evalEvery: test accuracy between epoch ends, not counted as training time, first milestones mid-epoch, and resumable', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-evalevery-'));
  try {
    const run = join(root, 'every');
    const summary = await train(config(run, 2), { data: easyData });
    assert.equal(summary.steps, 14);
    const evals = ofType(run, 'eval');
    assert.deepEqual(evals.map((l) => [l.epoch, l.step]), [[1, 2], [1, 4], [1, 6], [2, 8], [2, 10], [2, 12]]);
    assert.deepEqual(ofType(run, 'epoch').map((l) => l.step), [7, 14]);
    for (const l of evals) {
      assert.deepEqual(Object.keys(l).sort(), ['elapsedSeconds', 'epoch', 'step', 'testAccuracy', 'testLoss', 'time', 'type']);
      assert.ok(l.testAccuracy >= 0 && l.testAccuracy <= 1 && Number.isFinite(l.testLoss) && l.elapsedSeconds > 0);
    }
    // the orchestrator's trace row has an evaluate span for each
    const trace = JSON.parse(readFileSync(join(run, 'trace.json'), 'utf8')) as { traceEvents: { name: string; tid: number; dur: number; args?: { step?: number } }[] };
    const spans = trace.traceEvents.filter((e) => e.tid === ORCHESTRATOR_TID && e.name === 'evaluate' && e.args?.step !== undefined);
    assert.deepEqual(spans.map((e) => e.args!.step), [2, 4, 6, 8, 10, 12]);
    // evaluation is not training time: were it counted, trainSeconds would exceed the evaluations'
    // time (they happen inside the training loop); 6 x 15,000 test images take far longer than 14 steps
    const evalSeconds = spans.reduce((sum, e) => sum + e.dur / 1e6, 0);
    assert.ok(summary.trainSeconds < evalSeconds, `trainSeconds ${summary.trainSeconds} vs mid-epoch evaluations ${evalSeconds} s`);
    assert.ok(summary.trainSeconds + evalSeconds <= summary.wallSeconds);
    assert.ok(Math.abs(summary.trainSamplesPerSecond * summary.trainSeconds - 14 * 32) < 1e-6);
    // time to accuracy: the first evaluation that reached it, here a mid-epoch one
    const tested = lines(run).filter((l) => l.type === 'eval' || l.type === 'epoch');
    for (const [target, reached] of Object.entries(summary.testAccuracyReached)) {
      const first = tested.find((l) => l.testAccuracy >= Number(target));
      assert.deepEqual(reached, first ? { epoch: first.epoch, step: first.step, elapsedSeconds: first.elapsedSeconds } : null, target);
    }
    assert.ok(summary.testAccuracyReached['0.95'] && summary.testAccuracyReached['0.95'].step < 7, JSON.stringify(summary.testAccuracyReached));

    // evaluating does not change training (lockstep): the same losses and accuracies as a run without it
    const plain = join(root, 'plain');
    const without = await train(config(plain), { data: easyData });
    assert.equal(ofType(plain, 'eval').length, 0);
    assert.deepEqual(ofType(run, 'train').map((l) => [l.step, l.loss]), ofType(plain, 'train').map((l) => [l.step, l.loss]));
    assert.deepEqual(ofType(run, 'epoch').map((l) => l.testAccuracy), ofType(plain, 'epoch').map((l) => l.testAccuracy));
    assert.equal(without.testAccuracy, summary.testAccuracy);

    // stopped mid-epoch at step 6 (after its evaluation) and resumed: the same evaluations as one run
    const split = join(root, 'split');
    const stop = new AbortController();
    const first = await train(config(split, 2), { data: easyData, signal: stop.signal, onProgress: (p) => p.step >= 6 && stop.abort() });
    assert.equal(first.stopped, true);
    assert.equal(first.steps, 6);
    assert.deepEqual(ofType(split, 'eval').map((l) => l.step), [2, 4, 6]);
    const second = await resume(split, { data: easyData });
    assert.equal(second.resumedFrom, 6);
    assert.equal(second.steps, 14);
    const results = (dir: string) => ofType(dir, 'eval').map((l) => [l.step, l.testAccuracy, l.testLoss]);
    assert.deepEqual(results(split), results(run));

    // the report draws the mid-epoch evaluations on the test accuracy curve, in step order
    const drawn = chartData([readRun(run)]).runs[0];
    assert.deepEqual(drawn.testByStep.map((p) => p.x), [2, 4, 6, 7, 8, 10, 12, 14]);
    assert.deepEqual(drawn.valByStep.map((p) => p.x), [7, 14]);
    assert.equal(drawn.testByTime.length, 8);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
