import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { train, presets } from '../src/index.js';
import { data } from './helpers/fixtures.js';

test('a short cDNI run through the library learns and writes its outputs', async () => {
  const out = mkdtempSync(join(tmpdir(), 'synthgrad-run-'));
  try {
    const summary = await train(
      { ...presets['mnist-cdni'], train: { ...presets['mnist-cdni'].train, schedule: 'async', maxSteps: 250, priorities: 'auto' }, out, backend: 'wasm' },
      { data: data() },
    );
    assert.equal(summary.mode, 'cdni');
    assert.equal(summary.steps, 250);
    assert.equal(summary.stages, 4);
    assert.equal(summary.backend, 'wasm');
    assert.ok(summary.valAccuracy! > 0.85, `validation accuracy ${summary.valAccuracy}`);
    assert.ok(summary.testAccuracy! > 0.85, `test accuracy ${summary.testAccuracy}`);
    assert.ok(summary.trainSamplesPerSecond > 0);
    for (const s of summary.perStage) {
      assert.equal(s.updates, 250);
      assert.ok(s.busySeconds > 0);
      // every stage sends one message per step (up, or down from the top), and evaluation batches up
      assert.ok(s.sends! >= 250, `stage ${s.stage} sent ${s.sends}`);
      assert.ok(s.sendMedianMs === null || s.sendMedianMs! > 0, String(s.sendMedianMs));
      // a receiving turn follows every action: at least one per step
      assert.ok(s.receives! >= 250 && s.receiveSeconds! > 0 && s.receiveSeconds! < s.busySeconds, `stage ${s.stage}: ${s.receives} receives, ${s.receiveSeconds} s`);
      assert.ok(s.receiveMedianMs === null || s.receiveMedianMs! >= 0, String(s.receiveMedianMs));
      if (process.platform === 'linux') assert.ok(s.cpuSeconds! > 0 && s.cpuSeconds! < s.busySeconds + s.waitSeconds + 1, `cpu ${s.cpuSeconds}`);
    }
    for (const s of summary.perStage.slice(0, 3)) {
      assert.ok(s.synthesizerLoss !== null && s.synthesizerLoss > 0);
      assert.ok(s.synthesizerCosine !== null && s.synthesizerCosine > 0, `cosine ${s.synthesizerCosine}`);
    }
    assert.equal(summary.perStage[3].synthesizerLoss, null);
    // time to accuracy: one epoch end (the partial epoch of 250 steps)
    assert.deepEqual(Object.keys(summary.testAccuracyReached), ['0.95', '0.97', '0.98']);
    for (const [target, reached] of Object.entries(summary.testAccuracyReached)) {
      assert.equal(reached !== null, summary.testAccuracy! >= Number(target), `${target}: ${JSON.stringify(reached)}`);
      if (reached) assert.ok(reached.epoch === 1 && reached.step === 250 && reached.elapsedSeconds > 0);
    }
    // memory after the first epoch and at the end; priorities where 4 stages share fewer cores
    for (const s of summary.perStage) {
      assert.ok(s.memory?.firstEpoch && s.memory.end && s.memory.end.tensors > 0 && s.memory.end.jsHeapBytes! > 0, JSON.stringify(s.memory));
      if (availableParallelism() < 4 && process.platform === 'linux') assert.equal(typeof s.nice, 'number');
    }
    if (availableParallelism() < 4 && process.platform === 'linux') assert.equal(summary.perStage[0].nice! + summary.perStage[3].nice! > 0, true);
    const written = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.deepEqual(written, JSON.parse(JSON.stringify(summary)));
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(config.config.mode, 'cdni');
    assert.ok(config.versions.tfjs);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.type === 'train'));
    const epoch = lines.find((l) => l.type === 'epoch');
    assert.equal(epoch.stages.length, 4);
    assert.equal(epoch.valAccuracy, summary.valAccuracy);
    // trace.json: Chrome trace events, one named row per stage with compute, wait and send spans
    const trace = JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8'));
    const names = trace.traceEvents.filter((e: { ph: string }) => e.ph === 'M').map((e: { args: { name: string } }) => e.args.name);
    assert.deepEqual(names, ['orchestrator', 'stage 0', 'stage 1', 'stage 2', 'stage 3']);
    const spans = trace.traceEvents.filter((e: { ph: string }) => e.ph === 'X');
    for (let tid = 1; tid <= 4; tid++) {
      const kinds = new Set(spans.filter((e: { tid: number }) => e.tid === tid).map((e: { name: string }) => e.name));
      for (const kind of tid < 4 ? ['forward', 'target', 'wait', 'send', 'evaluate'] : ['forward', 'wait', 'send', 'evaluate']) {
        assert.ok(kinds.has(kind), `stage ${tid - 1} has ${kind} spans`);
      }
    }
    assert.equal(spans.filter((e: { tid: number; name: string }) => e.tid === 1 && e.name === 'forward').length, 250);
    assert.ok(spans.every((e: { ts: number; dur: number }) => Number.isFinite(e.ts) && e.dur >= 0));
    assert.ok(existsSync(join(out, 'report.html')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the CLI trains a preset end to end and prints accuracy, throughput and stage times', () => {
  const out = mkdtempSync(join(tmpdir(), 'synthgrad-cli-run-'));
  try {
    const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, 'train', '--preset', 'mnist-backprop', '--max-steps', '60', '--out', join(out, 'run')], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /validation accuracy 0\.\d+ +test accuracy 0\.\d+/);
    assert.match(r.stdout, /samples\/s/);
    assert.match(r.stdout, /stage +busy s +wait s/);
    // logs are JSON lines when stderr is not a terminal
    const logs = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(logs.some((l) => /stages ready on/.test(l.msg)));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
