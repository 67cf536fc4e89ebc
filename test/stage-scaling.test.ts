import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFigures, scalingReport, type ScalingRun, type StageScalingReport } from '../src/lab/bench/scaling-figures.js';
import { withTempDir } from './helpers/temp-dir.js';

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

/** Two stages, 10 steps of 4: one thread 100 ms wall; threads end after 80 and 50 ms. */
function run(scale = 1, threadWallMs = [80, 50]): ScalingRun {
  return {
    oneThread: { wallMs: 100 * scale, stages: [{ cpuMs: 60, runQueueMs: 5 }, { cpuMs: 30, runQueueMs: 0 }], othersLoadCores: 0.5 },
    threads: {
      stages: [
        { cpuMs: 70 * scale, runQueueMs: 10, wallMs: threadWallMs[0] },
        { cpuMs: 40 * scale, runQueueMs: 20, wallMs: threadWallMs[1] },
      ],
      othersLoadCores: null,
    },
  };
}
const settings = { steps: 10, batchSize: 4, cores: 2 };

test('figures of one repetition: per step, sums of stages, ratios of sums, samples/s to the slowest thread', () => {
  const f = runFigures(run(), settings);
  assert.deepEqual(
    f.stages.map((s) => [s.stage, s.oneThreadCpuMs, s.threadCpuMs, s.oneThreadRunQueueMs, s.threadRunQueueMs, s.threadWallMs]),
    [
      [0, 6, 7, 0.5, 1, 8],
      [1, 3, 4, 0, 2, 5],
    ],
  );
  close(f.stages[0].cpuRatio, 7 / 6);
  close(f.stages[1].cpuRatio, 4 / 3);
  // Σ CPU per step in each arrangement, and their ratio (not the sum or mean of the stages' ratios)
  assert.equal(f.oneThreadCpuMs, 9);
  assert.equal(f.threadsCpuMs, 11);
  close(f.cpuRatio, 11 / 9);
  // 40 samples in 100 ms; in threads, in the slowest thread's 80 ms
  close(f.oneThreadSamplesPerSecond, 400);
  close(f.threadsSamplesPerSecond, 500);
  close(f.speedup, 1.25);
  // min(2 cores, (60 + 30) / 60) from the one-thread CPU times, not the threads'
  close(f.bound, 1.5);
  assert.equal(f.oneThreadOthersLoadCores, 0.5);
  assert.ok(Number.isNaN(f.threadsOthersLoadCores), 'unknown load is NaN (null in JSON)');
});

test('the bound is capped at the cores', () => {
  const three: ScalingRun = {
    oneThread: { wallMs: 30, stages: [1, 1, 1].map((ms) => ({ cpuMs: ms, runQueueMs: 0 })), othersLoadCores: 0 },
    threads: { stages: [1, 1, 1].map((ms) => ({ cpuMs: ms, runQueueMs: 0, wallMs: 10 })), othersLoadCores: 0 },
  };
  assert.equal(runFigures(three, { ...settings, cores: 2 }).bound, 2);
  assert.equal(runFigures(three, { ...settings, cores: 4 }).bound, 3);
});

test('the report keeps every repetition in order and takes each figure’s median', () => {
  // speedups 1.25, 2.5, 0.75: one thread 100, 200, 300 ms against slowest threads 80, 80, 400 ms
  const runs = [run(1, [80, 50]), run(2, [80, 60]), run(3, [400, 10])];
  const report = scalingReport(runs, settings);
  assert.deepEqual(
    report.repetitions.map((r) => r.speedup),
    [100 / 80, 200 / 80, 300 / 400],
  );
  close(report.median.speedup, 100 / 80);
  // median of the speedups, not the ratio of the median samples/s (200 / 80 = 2.5)
  close(report.median.oneThreadSamplesPerSecond, 40 / 0.2);
  close(report.median.threadsSamplesPerSecond, 40 / 0.08);
  close(report.median.threadsCpuMs, 22);
  close(report.median.cpuRatio, 22 / 9);
  assert.deepEqual(
    report.median.stages.map((s) => [s.stage, s.threadCpuMs, s.threadWallMs]),
    [
      [0, 14, 8],
      [1, 8, 5],
    ],
  );
  assert.throws(() => scalingReport([], settings), /no repetitions/);
});

const script = fileURLToPath(new URL('../scripts/stage-scaling.js', import.meta.url));
const spawn = (args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 120_000 });

test('stage-scaling runs both arrangements and writes the figures as JSON', () =>
  withTempDir('synthgrad-scaling', (dir) => {
    const json = join(dir, 'scaling.json');
    const r = spawn(['--steps', '5', '--warmup', '2', '--repetitions', '1', '--batch-size', '32', '--json', json]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /free-running speedup/);
    const out = JSON.parse(readFileSync(json, 'utf8')) as StageScalingReport & { preset: string; backend: string };
    assert.equal(out.preset, 'mnist-cdni');
    assert.equal(out.backend, 'wasm');
    assert.deepEqual(out.settings, { steps: 5, batchSize: 32, cores: out.settings.cores });
    assert.equal(out.repetitions.length, 1);
    const m = out.median;
    assert.deepEqual(
      m.stages.map((s) => s.stage),
      [0, 1, 2, 3],
    );
    for (const s of m.stages) assert.ok(s.oneThreadCpuMs > 0 && s.threadCpuMs > 0 && s.threadWallMs > 0, JSON.stringify(s));
    for (const x of [m.oneThreadCpuMs, m.threadsCpuMs, m.cpuRatio, m.oneThreadSamplesPerSecond, m.threadsSamplesPerSecond, m.speedup, m.bound]) {
      assert.ok(x > 0, JSON.stringify(m));
    }
  }));

test('stage-scaling refuses a bad flag, naming it', () => {
  for (const args of [['--repetitions', '0'], ['--backend', 'gpu']]) {
    const r = spawn(args);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(args[0]));
    assert.equal(r.stdout, '');
  }
});
