/**
 * Runs with the gradient sources beside synthetic gradients (fa, dfa, bp-lambda, kickback) through the stage
 * workers: lockstep repeats bit for bit, a run stopped and resumed from its checkpoint ends where
 * an uninterrupted one does (feedback matrices and synthesizers included), DFA's error link works
 * over NATS as over threads, and bad settings are refused with the field named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train, resume, type NatsRunOptions } from '../src/train.js';
import type { Config } from '../src/config/schema.js';
import { assertSameStates, checkpointStates, configProblems } from './helpers/run-files.js';
import { withNatsServer } from './helpers/nats-server.js';
import { runId } from './helpers/stage-processes.js';
import { data, smallConfig, twoClassConfig } from './helpers/fixtures.js';

const configs: Record<string, Config> = {
  fa: smallConfig({ mode: 'fa', train: { schedule: 'lockstep', maxSteps: 30 } }),
  dfa: smallConfig({ mode: 'dfa', train: { schedule: 'lockstep', maxSteps: 30 } }),
  'bp-lambda': smallConfig({ mode: 'bp-lambda', lambda: { start: 1, end: 0, steps: 20 }, train: { schedule: 'lockstep', maxSteps: 30 } }),
  kickback: twoClassConfig('kickback', { schedule: 'lockstep', maxSteps: 30 }),
};

for (const [mode, config] of Object.entries(configs)) {
  test(`${mode}: lockstep runs are bit-identical, and one stopped and resumed ends as an uninterrupted one`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'synthgrad-grad-'));
    try {
      const whole = await train({ ...config, out: join(root, 'whole') }, { data: data() });
      const again = await train({ ...config, out: join(root, 'again') }, { data: data() });
      assert.equal(whole.steps, 30);
      assertSameStates(checkpointStates(join(root, 'whole')), checkpointStates(join(root, 'again')));
      assert.equal(again.testAccuracy, whole.testAccuracy);
      const stop = new AbortController();
      const first = await train({ ...config, out: join(root, 'split') }, { data: data(), signal: stop.signal, onProgress: (p) => p.step >= 15 && stop.abort() });
      assert.ok(first.stopped && first.steps < 30, `stopped at step ${first.steps}`);
      const second = await resume(join(root, 'split'), { data: data() });
      assert.equal(second.resumedFrom, first.steps);
      assert.equal(second.steps, 30);
      assertSameStates(checkpointStates(join(root, 'whole')), checkpointStates(join(root, 'split')));
      assert.equal(second.testAccuracy, whole.testAccuracy);
      // the sources' own state is in the checkpoint: feedback matrices (fa, dfa) or the synthesizer (bp-lambda); kickback has none
      const states = checkpointStates(join(root, 'whole'));
      if (mode === 'kickback') assert.ok(states.every((s) => s.synthesizer === null && !s.feedback?.length));
      else if (mode === 'bp-lambda') assert.ok(states.slice(0, -1).every((s) => s.synthesizer !== null));
      else assert.ok(states.slice(0, mode === 'dfa' ? -1 : undefined).every((s) => (s.feedback?.length ?? 0) > 0));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('dfa over NATS (a process per stage, the error on each stage\'s error subject) gives bit-identical weights to dfa over threads', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-grad-'));
  const run = runId('dfa-same');
  try {
    await withNatsServer({}, async (server) => {
      const config = { ...configs.dfa, train: { ...configs.dfa.train, maxSteps: 12 } };
      const threads = await train({ ...config, out: join(root, 'threads') }, { data: data() });
      const processes = await train({ ...config, out: join(root, 'processes') }, { data: data(), nats: { stages: 'spawn', url: server.url, runId: run, credentials: {} } });
      assert.equal(processes.transport?.stages, 'spawn');
      assertSameStates(checkpointStates(join(root, 'threads')), checkpointStates(join(root, 'processes')));
      assert.equal(processes.testAccuracy, threads.testAccuracy);
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the new modes refuse what they cannot do, naming the field', () => {
  const problems = configProblems;
  assert.match(problems({ mode: 'bp-lambda' }), /lambda: mode bp-lambda needs its λ schedule/);
  assert.match(problems({ mode: 'bp-lambda', lambda: { start: 1, end: 0 } }), /lambda\.steps: lambda goes from 1 to 0: give the steps/);
  assert.match(problems({ mode: 'fa', lambda: { start: 1 } }), /lambda: lambda is the schedule of mode bp-lambda/);
  assert.match(problems({ mode: 'bp-lambda', lambda: { start: 2, end: 0, steps: 5 } }), /lambda\.start/);
  assert.match(problems({ mode: 'dfa', train: { skipNonFinite: true } }), /train\.skipNonFinite: mode dfa does not support/);
  assert.match(problems({ mode: 'fa', train: { updateProbability: 0.5 } }), /train\.updateProbability: fa updates every batch/);
  assert.match(problems({ mode: 'kickback' }), /labels: mode kickback needs one error per example/);
  assert.equal(problems({ mode: 'bp-lambda', lambda: { start: 0.5, end: 0.5 } }), '');
});

/** The gradient probe's lines of a run's metrics.jsonl (a lost probe has `lost` and no cosines). */
function probeLines(dir: string): { step: number; cosine: (number | null)[]; lost?: true }[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'probe');
}

test('the gradient probe: backprop sees cosine 1, fa, dfa, dni and bp-lambda less; probes change nothing in training; over NATS as over threads', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-grad-'));
  const run = runId('probe-same');
  try {
    const base = smallConfig({ mode: 'backprop', train: { schedule: 'lockstep', maxSteps: 12 } });
    const probed = { ...base, train: { ...base.train, probeEvery: 4 } };
    const plain = await train({ ...base, out: join(root, 'plain') }, { data: data() });
    const withProbes = await train({ ...probed, out: join(root, 'probed') }, { data: data() });
    assertSameStates(checkpointStates(join(root, 'plain')), checkpointStates(join(root, 'probed')));
    assert.equal(withProbes.testAccuracy, plain.testAccuracy);
    const lines = probeLines(join(root, 'probed'));
    assert.deepEqual(lines.map((l) => l.step), [4, 8, 12]);
    for (const l of lines) {
      assert.equal(l.cosine[2], null);
      for (const c of l.cosine.slice(0, 2)) assert.ok(Math.abs(c! - 1) < 1e-5, `backprop's cosine ${c}`);
    }
    assert.deepEqual(withProbes.perStage.map((s) => s.gradientProbes), [3, 3, 3]);
    for (const mode of ['fa', 'dfa', 'dni', 'bp-lambda'] as const) {
      const config = smallConfig({ mode, ...(mode === 'bp-lambda' && { lambda: { start: 0.5, end: 0.5, steps: 0 } }), train: { schedule: 'lockstep', maxSteps: 8, probeEvery: 4 } });
      const summary = await train({ ...config, out: join(root, mode) }, { data: data() });
      const cosines = probeLines(join(root, mode)).flatMap((l) => l.cosine.slice(0, 2)) as number[];
      assert.equal(cosines.length, 4);
      // a gradient that is not the true one: the cosine is below 1 (and a cosine)
      assert.ok(cosines.every((c) => Number.isFinite(c) && c < 0.9999 && c >= -1), `${mode}: ${cosines}`);
      assert.ok(summary.perStage[0].gradientCosine !== null && summary.perStage[0].gradientCosine !== undefined);
    }
    await withNatsServer({}, async (server) => {
      const config = { ...configs.fa, train: { ...configs.fa.train, maxSteps: 8, probeEvery: 4 } };
      await train({ ...config, out: join(root, 'fa-threads') }, { data: data() });
      await train({ ...config, out: join(root, 'fa-processes') }, { data: data(), nats: { stages: 'spawn', url: server.url, runId: run, credentials: {} } });
      assertSameStates(checkpointStates(join(root, 'fa-threads')), checkpointStates(join(root, 'fa-processes')));
      assert.deepEqual(probeLines(join(root, 'fa-processes')).map((l) => l.cosine), probeLines(join(root, 'fa-threads')).map((l) => l.cosine));
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

for (const stage of [0, 2]) {
  test(`dfa: a stage worker (${stage === 2 ? 'the last, which sends the error' : 'below the last, which gets it'}) that exits is replaced, its error links re-wired, and the run finishes`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'synthgrad-grad-'));
    try {
      const config = smallConfig({ mode: 'dfa', train: { schedule: 'lockstep', maxSteps: 60, checkpointEvery: 20 } });
      const summary = await train({ ...config, out: join(root, 'run') }, { data: data(), fault: { stage, step: 30, kind: 'exit' } });
      assert.equal(summary.restarts, 1);
      assert.equal(summary.steps, 60);
      assert.ok(summary.testAccuracy! > 0.5, `test accuracy ${summary.testAccuracy}`);
      // every stage trained on after the restart: the error reached each through the new links
      const states = checkpointStates(join(root, 'run'));
      assert.ok(states.every((s) => s.step === 60));
      assert.ok(summary.perStage.every((s) => s.updates >= 30), `updates ${summary.perStage.map((s) => s.updates)}`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('a stage that fails during a gradient probe is restarted, the probe is recorded as lost, and the run finishes', { timeout: 180_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-grad-'));
  const run = runId('probe-lost');
  // stage 1 throws on the probe batch (step -1) at step 4; its replacement has no fault
  const config = smallConfig({ mode: 'backprop', train: { schedule: 'lockstep', maxSteps: 12, probeEvery: 4, checkpointEvery: 4 } });
  const fault = { stage: 1, step: -1, kind: 'throw' } as const;
  const check = async (dir: string, nats?: NatsRunOptions) => {
    const summary = await train({ ...config, out: dir }, { data: data(), fault, ...(nats && { nats }) });
    assert.equal(summary.restarts, 1);
    assert.equal(summary.lostSteps, 0, 'the probe is no training step');
    assert.equal(summary.steps, 12);
    // over NATS, every stage took the orchestrator's word that the probe was lost
    assert.deepEqual(summary.perStage.map((s) => s.rejected ?? {}), [{}, {}, {}]);
    const lines = probeLines(dir);
    assert.deepEqual(lines.map((l) => [l.step, l.lost ?? false]), [[4, true], [8, false], [12, false]]);
    assert.equal(lines[0].cosine, undefined);
    // the next probes pass every stage, the restarted one and those that forgot the lost probe
    for (const l of lines.slice(1)) {
      assert.equal(l.cosine[2], null);
      for (const c of l.cosine.slice(0, 2)) assert.ok(Math.abs(c! - 1) < 1e-5, `backprop's cosine ${c}`);
    }
    assert.deepEqual(summary.perStage.map((s) => s.gradientProbes), [2, 2, 2]);
    assert.ok(Math.abs(summary.perStage[0].gradientCosine! - 1) < 1e-5);
  };
  try {
    await check(join(root, 'threads'));
    await withNatsServer({}, (server) => check(join(root, 'processes'), { stages: 'spawn', url: server.url, runId: run, credentials: {} }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
