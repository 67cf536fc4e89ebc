import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import {
  aggregate,
  benchTable,
  defaultConfigNames,
  faster,
  interleave,
  median,
  othersLoad,
  pairedRatio,
  parallelismBound,
  parseConfigName,
  parseProcStat,
  phaseFlops,
  runBench,
  runRecord,
  samplesPerSecondAfter,
  warmupSteps,
  sendShare,
  speedupLine,
  speedups,
  stageFlops,
  benchConfig,
  totalLoad,
  utilisation,
  type BenchResult,
  type LoadSample,
  type MeasuredCeiling,
  type RunRecord,
} from '../src/lab/bench/index.js';
import { ConfigError } from '../src/config/errors.js';
import { convTimer } from '../src/lab/bench/matmul-ceiling.js';
import { largestConvOf, stageWork } from '../src/lab/bench/stage-work.js';
import { resolveConfig } from '../src/config/resolve.js';
import { Stage } from '../src/stage/stage.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import type { StageStats } from '../src/stage/protocol.js';
import type { Summary } from '../src/run/summary.js';
import { data, smallConfig } from './helpers/fixtures.js';

test('median: odd and even counts, unsorted input, empty list', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5]), 5);
  assert.ok(Number.isNaN(median([])));
});

test('parallelism bound: min(cores, Σ busy / max busy)', () => {
  assert.equal(parallelismBound([1, 1, 1, 1], 2), 2); // limited by the cores
  assert.equal(parallelismBound([1, 1, 1, 1], 8), 4); // balanced stages: one per stage
  assert.equal(parallelismBound([4, 1, 1, 1], 2), 1.75); // limited by the slowest stage
  assert.equal(parallelismBound([3, 3, 3, 0.5], 8), 9.5 / 3);
  assert.equal(parallelismBound([2], 2), 1);
  assert.ok(Number.isNaN(parallelismBound([0, 0], 2)));
  assert.equal(utilisation(3, 1), 0.75);
  assert.ok(Number.isNaN(utilisation(0, 0)));
  assert.equal(sendShare(0.5, 2), 0.25);
});

test('runs are interleaved: repetition 1 of every configuration, then repetition 2, ...', () => {
  const order = interleave(['a', 'b', 'c'], 3).map((r) => `${r.config}${r.repetition}`);
  assert.deepEqual(order, ['a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'a3', 'b3', 'c3']);
  assert.deepEqual(interleave(['a', 'b'], 2).map((r) => r.index), [0, 1, 2, 3]);
  assert.deepEqual(interleave(['a'], 0), []);
});

test('configuration names: mode/schedule; the defaults add pipelined only when the schema has it', () => {
  assert.deepEqual(parseConfigName(' cdni/async '), { name: 'cdni/async', mode: 'cdni', schedule: 'async', configSchedule: 'async', inThread: false });
  // sequential is decided here, once: every stage in the bench's thread, in lockstep's order
  assert.deepEqual(parseConfigName('dni/sequential'), { name: 'dni/sequential', mode: 'dni', schedule: 'sequential', configSchedule: 'lockstep', inThread: true });
  assert.throws(() => parseConfigName('cdni'), ConfigError);
  assert.throws(() => parseConfigName('sgd/async'), /mode one of backprop, dni, cdni/);
  assert.deepEqual(defaultConfigNames(false), ['backprop/lockstep', 'cdni/sequential', 'cdni/lockstep', 'cdni/async']);
  assert.deepEqual(defaultConfigNames(true), ['backprop/lockstep', 'cdni/sequential', 'cdni/lockstep', 'cdni/async', 'cdni/pipelined']);
});

test('sequential is not a config schedule: it resolves with lockstep, and refuses complete unlock', () => {
  const run = { steps: 7, out: '/tmp/unused' };
  const config = benchConfig({ config: smallConfig() }, parseConfigName('cdni/sequential'), run);
  assert.equal(config.train.schedule, 'lockstep');
  assert.equal(config.mode, 'cdni');
  assert.equal(config.train.maxSteps, 7);
  assert.equal(benchConfig({ config: smallConfig() }, parseConfigName('cdni/async'), run).train.schedule, 'async');
  const unlocked = smallConfig({ mode: 'cdni', syntheticInputs: { hiddenLayers: [8] } });
  assert.equal(benchConfig({ config: unlocked }, parseConfigName('cdni/lockstep'), run).train.schedule, 'lockstep');
  assert.throws(() => benchConfig({ config: unlocked }, parseConfigName('cdni/sequential'), run), /cdni\/sequential: .*complete unlock/);
});

test('/proc/stat: busy and idle ticks of the aggregate cpu line; others = machine - own', () => {
  const sample = [
    'cpu  298800 86 58684 427440 1167 0 4123 7 0 0',
    'cpu0 142178 36 27474 223149 125 0 2054 3 0 0',
    'cpu1 156622 49 31209 204290 1042 0 2069 4 0 0',
    'intr 2251913 0 0 0',
    'ctxt 4462397',
  ].join('\n');
  assert.deepEqual(parseProcStat(sample), { busyTicks: 298800 + 86 + 58684 + 0 + 4123 + 7, idleTicks: 427440 + 1167 });
  assert.throws(() => parseProcStat('intr 1 2 3\n'), /no aggregate "cpu" line/);
  // 10 s of wall time; the machine was busy 15 CPU s (1500 ticks), this process used 12 of them
  const load = othersLoad({ busyTicks: 1000, idleTicks: 0 }, { busyTicks: 2500, idleTicks: 500 }, 12, 10);
  assert.equal(load.machineCpuSeconds, 15);
  assert.ok(Math.abs(load.othersCpuSeconds! - 3) < 1e-9);
  assert.ok(Math.abs(load.othersLoadCores! - 0.3) < 1e-9);
  assert.equal(othersLoad(null, null, 1, 1).othersLoadCores, null);
  const total = totalLoad([load, { ...load, othersCpuSeconds: 1, wallSeconds: 10 }]);
  assert.ok(Math.abs(total.othersLoadCores! - 0.2) < 1e-9);
});

const quiet: LoadSample = { wallSeconds: 10, ownCpuSeconds: 15, machineCpuSeconds: 15.5, othersCpuSeconds: 0.5, othersLoadCores: 0.05 };

function fakeSummary(schedule: string, samplesPerSecond: number, busy: number[], mode = 'cdni'): Summary {
  return {
    runId: `fake-${schedule}`, outDir: `/tmp/fake-${mode}-${schedule}`, preset: 'mnist-cdni', mode, schedule, window: schedule === 'lockstep' ? 1 : 4,
    backend: 'wasm', stages: busy.length, epochs: 1, steps: 100, batchSize: 128, wallSeconds: 12, trainSeconds: 10,
    trainSamplesPerSecond: samplesPerSecond, valAccuracy: 0.9, valLoss: 0.3, testAccuracy: 0.9, testLoss: 0.3, stopped: false,
    restarts: 0, lostSteps: 0, checkpointStep: 100, resumedFrom: null, testAccuracyReached: {},
    perStage: busy.map((b, stage) => ({
      stage, layers: [], backend: 'wasm', busySeconds: b + 1, waitSeconds: 1, sendSeconds: 0.1, updates: 100, skippedUpdates: 0,
      droppedNonFinite: 0, synthesizerLoss: null, synthesizerCosine: null,
    })),
  };
}

/** The stats a stage reports at the end of training (before evaluation). */
function trainingStats(busy: number[], wait: number[]): { step: number; stages: StageStats[] } {
  return {
    step: 100,
    stages: busy.map((b, stage) => ({
      stage, busySeconds: b, waitSeconds: wait[stage], sendSeconds: b / 10, updates: 100, skippedUpdates: 0, synthesizerUpdates: 100,
      evicted: 0, droppedNonFinite: 0, synthesizerLoss: null, synthesizerCosine: null,
    })),
  };
}

function fakeRuns(): RunRecord[] {
  const runs: RunRecord[] = [];
  const plan = interleave(['cdni/lockstep', 'cdni/async'], 3);
  const lockstep = [1000, 1100, 900];
  const async = [1500, 1650, 1400];
  for (const p of plan) {
    const async_ = p.config === 'cdni/async';
    const sps = (async_ ? async : lockstep)[p.repetition - 1];
    // async: stage busy 4, 3, 3, 1 → Σ 11, max 4 → bound min(2, 2.75) = 2
    const busy = async_ ? [4, 3, 3, 1] : [4, 3, 3, 1];
    const wait = async_ ? [1, 2, 2, 9] : [7, 8, 8, 10];
    const summary = fakeSummary(async_ ? 'async' : 'lockstep', sps, busy);
    runs.push(runRecord(summary, { config: p.config, repetition: p.repetition, index: p.index, load: quiet, cores: 2 }, trainingStats(busy, wait)));
  }
  return runs;
}

/** A bench.json around these runs (configs and speedups to be filled in). */
function fakeResult(runs: RunRecord[]): BenchResult {
  return {
    format: 'synthgrad-bench/1', createdAt: new Date(0).toISOString(), outDir: '/tmp/fake-bench',
    settings: { preset: 'mnist-cdni', steps: 100, warmup: 0, repetitions: 3, batchSize: 128, configs: [...new Set(runs.map((r) => r.config))], order: [], cores: 2 },
    machine: { cpus: 2, availableParallelism: 2, model: 'Test CPU', platform: 'linux', arch: 'x64', totalMemoryGiB: 4, loadAverage: [0, 0, 0], node: '20', tfjs: '4.22.0', tfjsBackendWasm: '4.22.0', synthgrad: '0.1.0', backend: 'wasm' },
    matMulCeiling: { backend: 'wasm', m: 256, k: 784, n: 256, flops: 2 * 256 * 784 * 256, warmup: 5, reps: 20, medianMs: 4, minMs: 3.9, gflops: 25.7, wasmThreads: 1, wasmSimd: true, load: quiet },
    convCeiling: null,
    // 1 GFLOP per step on every stage of cdni/async (lockstep: none known)
    stageWork: { 'cdni/async': [0, 1, 2, 3].map(() => ({ flopsPerStep: 1e9, largestConv: null })) },
    runs, configs: [], speedups: [], load: totalLoad(runs.map((r) => r.load)),
  };
}

test('message shares: wall-clock send and receive / busy, and (sends × median send + receives × median receive) / busy; medians over repetitions; the table shows them', () => {
  const runs = [0, 1, 2].map((i) => {
    const stats = trainingStats([2, 1], [0, 1]);
    // stage 0 sent 200 messages of median 0.05 ms (10 ms of 2 s busy: 0.5%) but 0.2 s of wall-clock send (10%),
    // and received in 400 turns of median 0.02 ms (8 ms: 0.4%) but 0.06 s of wall clock (3%)
    stats.stages[0] = {
      ...stats.stages[0], sends: 200, sendMedianMs: 0.05 + i * 0.01, cpuSeconds: 1.5 + i,
      receives: 400, receiveMedianMs: 0.02 + i * 0.01, receiveSeconds: 0.06 + i * 0.01,
    };
    const summary = fakeSummary('async', 1000 + i, [2, 1]);
    return runRecord(summary, { config: 'cdni/async', repetition: i + 1, index: i, load: quiet, cores: 2 }, stats);
  });
  assert.ok(Math.abs(runs[0].stages[0].typicalSendShare - 0.005) < 1e-12);
  assert.ok(Math.abs(runs[0].stages[0].sendShare - 0.1) < 1e-12);
  assert.ok(Math.abs(runs[0].stages[0].receiveShare - 0.03) < 1e-12);
  assert.ok(Math.abs(runs[0].stages[0].typicalMessageShare - 0.009) < 1e-12);
  assert.ok(Number.isNaN(runs[0].stages[1].typicalSendShare), 'not measured: NaN');
  assert.ok(Number.isNaN(runs[0].stages[1].typicalMessageShare), 'not measured: NaN');
  assert.deepEqual(runs[0].nice, [null, null], 'no priorities set in the summary');
  const prioritized = { ...fakeSummary('async', 1000, [2, 1]) };
  prioritized.perStage = prioritized.perStage.map((s, i) => ({ ...s, nice: [0, 7][i] }));
  assert.deepEqual(runRecord(prioritized, { config: 'cdni/async', repetition: 1, index: 0, load: quiet, cores: 2 }).nice, [0, 7]);
  const [config] = aggregate(runs);
  assert.ok(Math.abs(config.stages[0].sendMedianMs! - 0.06) < 1e-12);
  assert.equal(config.stages[0].cpuSeconds, 2.5);
  assert.ok(Math.abs(config.stages[0].typicalSendShare - (200 * 0.06) / 1000 / 2) < 1e-12);
  assert.ok(Math.abs(config.stages[0].receiveMedianMs! - 0.03) < 1e-12);
  assert.ok(Math.abs(config.stages[0].typicalMessageShare - (200 * 0.06 + 400 * 0.03) / 1000 / 2) < 1e-12);
  assert.equal(config.stages[1].cpuSeconds, undefined);
  const table = benchTable({ ...fakeResult(runs), configs: [config] });
  assert.match(table, /moving\/busy/);
  // busy, cpu, wait, busy/(busy+wait), send/busy, recv/busy, send p50, recv p50, moving/busy
  assert.match(table, /cdni\/async\s+0\s+2\.00\s+2\.50\s+0\.00\s+100%\s+10\.0%\s+3\.5%\s+0\.060\s+0\.030\s+1\.2%/);
});

test('a run takes its stage times from the end of training when they cover every step, else from the summary', () => {
  const summary = fakeSummary('async', 1000, [2, 1]);
  const fromTraining = runRecord(summary, { config: 'cdni/async', repetition: 1, index: 0, load: quiet, cores: 2 }, trainingStats([2, 1], [0, 1]));
  assert.equal(fromTraining.stageSource, 'training');
  assert.equal(fromTraining.stages[0].busySeconds, 2);
  assert.equal(fromTraining.stages[1].utilisation, 0.5);
  assert.equal(fromTraining.bound, 1.5);
  const partial = { ...trainingStats([2, 1], [0, 1]), step: 50 };
  const fromSummary = runRecord(summary, { config: 'cdni/async', repetition: 1, index: 0, load: quiet, cores: 2 }, partial);
  assert.equal(fromSummary.stageSource, 'summary');
  assert.equal(fromSummary.stages[0].busySeconds, 3);
});

test('speedup table from fake summaries: medians, async over lockstep of the bound, per-stage shares, others\' load', () => {
  const runs = fakeRuns();
  const configs = aggregate(runs);
  assert.deepEqual(configs.map((c) => c.config), ['cdni/lockstep', 'cdni/async']);
  assert.equal(configs[0].medianSamplesPerSecond, 1000);
  assert.equal(configs[1].medianSamplesPerSecond, 1500);
  assert.deepEqual(configs[1].samplesPerSecond, [1500, 1650, 1400]);
  assert.equal(configs[1].bound, 2);
  assert.equal(configs[1].stages[0].utilisation, 0.8);
  assert.ok(Math.abs(configs[1].stages[0].sendShare - 0.1) < 1e-12);
  const sp = speedups(configs);
  assert.equal(sp.length, 1);
  assert.equal(sp[0].numerator, 'cdni/async');
  assert.equal(sp[0].denominator, 'cdni/lockstep');
  assert.equal(sp[0].speedup, 1.5);
  assert.equal(sp[0].bound, 2);
  assert.equal(sp[0].ofBound, 0.75);

  const table = benchTable({ ...fakeResult(runs), configs, speedups: sp });
  assert.match(table, /cdni\/async over cdni\/lockstep: 1\.50x \(paired 1\.50x\) of bound 2\.00 \(75%\)/);
  assert.match(table, /cdni\/async\s+1500\s+1500 1650 1400\s+1500\s+0\.05 cores/);
  assert.match(table, /samples\/s: over all 100 steps of each run/);
  assert.match(table, /25\.7 GFLOP\/s/);
  // cdni/async stage 0: 100 steps of 1 GFLOP in 4 busy seconds = 25.0 GFLOP/s, 97% of the 25.7 matMul ceiling
  const stage0 = table.split('\n').find((l) => /^\s+cdni\/async\s+0\s/.test(l));
  assert.match(stage0 ?? '', /25\.0\s+97%$/);
  const lockstep0 = table.split('\n').find((l) => /^\s+cdni\/lockstep\s+0\s/.test(l));
  assert.match(lockstep0 ?? '', /-\s+-$/, 'no work known: no figure');
  // with the stage thread's CPU time known, GFLOP/s are over it (2 CPU seconds: 50.0, 195%)
  const withCpu = configs.map((c) => (c.config === 'cdni/async' ? { ...c, stages: c.stages.map((st) => ({ ...st, cpuSeconds: 2 })) } : c));
  const cpuTable = benchTable({ ...fakeResult(runs), configs: withCpu, speedups: sp });
  assert.match(cpuTable.split('\n').find((l) => /^\s+cdni\/async\s+0\s/.test(l)) ?? '', /50\.0\s+195%$/);
  // steps whose synthesizer predicted again add that pass: 50 of 0.5 GFLOP on 2 CPU seconds, 12.5 more
  const again = configs.map((c) => (c.config === 'cdni/async' ? { ...c, stages: c.stages.map((st) => ({ ...st, cpuSeconds: 2, synthesizerRepredictions: 50 })) } : c));
  const work = { 'cdni/async': [0, 1, 2, 3].map(() => ({ flopsPerStep: 1e9, repredictFlops: 0.5e9, largestConv: null })) };
  const againTable = benchTable({ ...fakeResult(runs), stageWork: work, configs: again, speedups: sp });
  assert.match(againTable.split('\n').find((l) => /^\s+cdni\/async\s+0\s/.test(l)) ?? '', /62\.5\s+243%$/);
  assert.match(table, /others' load over all runs: 3\.0 CPU s, 0\.05 cores over 60\.0 s/);
  assert.match(table, /stage times: training only/);
  assert.equal(table.split('\n').filter((l) => /^\s+\d+\s+cdni\//.test(l)).length, 6, 'one line per run');
});

test('a pipelined schedule is compared with lockstep (its own bound) and with async (no bound)', () => {
  const rec = (config: string, sps: number, busy: number[]): RunRecord => ({
    ...runRecord(fakeSummary(config.split('/')[1], sps, busy), { config, repetition: 1, index: 0, load: quiet, cores: 2 }, trainingStats(busy, busy.map(() => 0))),
  });
  const sp = speedups(aggregate([rec('cdni/lockstep', 100, [1, 1]), rec('cdni/async', 150, [2, 1]), rec('cdni/pipelined', 180, [1, 1])]));
  assert.deepEqual(sp.map((s) => `${s.numerator}/${s.denominator}`), ['cdni/async/cdni/lockstep', 'cdni/pipelined/cdni/lockstep', 'cdni/pipelined/cdni/async']);
  assert.equal(sp[1].bound, 2);
  assert.equal(sp[1].ofBound, 0.9);
  assert.equal(sp[2].bound, null);
  assert.equal(sp[2].speedup, 1.2);
});

test('lockstep, async and pipelined are compared with sequential too (the parallel schedules with their own bound), in the table\'s speedup lines', () => {
  const rec = (config: string, sps: number, busy: number[]): RunRecord =>
    runRecord(fakeSummary(config.split('/')[1], sps, busy), { config, repetition: 1, index: 0, load: quiet, cores: 2 }, trainingStats(busy, busy.map(() => 1)));
  const configs = aggregate([
    rec('backprop/lockstep', 120, [1, 1]),
    rec('cdni/sequential', 80, [1, 1]),
    rec('cdni/lockstep', 100, [1, 1]),
    rec('cdni/async', 150, [2, 1]),
    rec('cdni/pipelined', 160, [1, 1]),
  ]);
  const sp = speedups(configs);
  assert.deepEqual(
    sp.map((s) => `${s.numerator} / ${s.denominator}`),
    ['cdni/lockstep / cdni/sequential', 'cdni/async / cdni/lockstep', 'cdni/async / cdni/sequential', 'cdni/pipelined / cdni/lockstep', 'cdni/pipelined / cdni/sequential', 'cdni/pipelined / cdni/async'],
  );
  assert.deepEqual(sp.shift(), { numerator: 'cdni/lockstep', denominator: 'cdni/sequential', speedup: 1.25, paired: 1.25, bound: null, ofBound: null });
  assert.equal(sp[1].speedup, 150 / 80);
  assert.equal(sp[1].bound, 1.5); // the async runs' own: min(2, (2 + 1) / 2)
  assert.equal(sp[1].ofBound, 150 / 80 / 1.5);
  assert.equal(sp[3].speedup, 2);
  assert.equal(sp[3].bound, 2);
  // over lockstep, which runs 1.25x sequential here: the bound scaled by 80 / 100
  assert.deepEqual(sp[0].lockstepBound, { bound: 1.2, ofBound: 1.25 });
  assert.deepEqual(sp[2].lockstepBound, { bound: 1.6, ofBound: 1.6 / 1.6 });
  assert.equal(sp[1].lockstepBound, undefined, 'not over sequential');
  assert.equal(sp[4].lockstepBound, undefined, 'not without a bound');

  const runs = configs.map((c, index) => ({ ...rec(c.config, c.medianSamplesPerSecond, [1, 1]), index }));
  const table = benchTable({ ...fakeResult(runs), configs, speedups: speedups(configs) });
  assert.match(table, /config\s+samples\/s\s+per repetition\s+whole run\s+others' load\n/);
  assert.match(table, /backprop\/lockstep\s+120\s+120\s+120\s+0\.05 cores/);
  assert.match(table, /cdni\/lockstep over cdni\/sequential: 1\.25x \(paired 1\.25x\)\n/);
  assert.match(table, /cdni\/async over cdni\/lockstep: 1\.50x \(paired 1\.50x\) of bound 1\.50 \(100%\); 1\.20 over a lockstep that already overlaps stages \(125%\)/);
  assert.match(table, /cdni\/async over cdni\/sequential: 1\.88x \(paired 1\.88x\) of bound 1\.50 \(125%\)\n/);
  assert.match(table, /sequential runs in one thread: a stage's wait is the rest of the training time/);
  // without a sequential run: no line over it, no note
  const noSequential = configs.filter((c) => c.config !== 'cdni/sequential');
  const plain = benchTable({ ...fakeResult(runs.filter((r) => r.config !== 'cdni/sequential')), configs: noSequential, speedups: speedups(noSequential) });
  assert.match(plain, /cdni\/async\s+150\s+150\s+150\s+0\.05 cores/);
  assert.doesNotMatch(plain, /sequential/);
  assert.doesNotMatch(plain, /overlaps stages/, 'no scaled bound without a sequential run');
});

test('paired speedup: the median of each repetition\'s own ratio, which a machine slowing down during the bench leaves as it is', () => {
  const rec = (config: string, sps: number, repetition: number): RunRecord =>
    runRecord(fakeSummary(config.split('/')[1], sps, [1, 1]), { config, repetition, index: 0, load: quiet, cores: 2 }, trainingStats([1, 1], [0, 0]));
  // the second repetition of both ran on a slowed machine; async ran 1.5x lockstep beside it but the third time
  const lockstep = [1000, 600, 1000];
  const async = [1500, 900, 1300];
  const runs = lockstep.flatMap((l, k) => [rec('cdni/lockstep', l, k + 1), rec('cdni/async', async[k], k + 1)]);
  const [sp] = speedups(aggregate(runs));
  assert.equal(sp.speedup, 1300 / 1000, 'the medians come from different repetitions');
  assert.equal(sp.paired, 1.5, 'the median of 1.5, 1.5 and 1.3');
  assert.match(speedupLine(sp), /^cdni\/async over cdni\/lockstep: 1\.30x \(paired 1\.50x\) of bound/);
  assert.equal(pairedRatio([3, 4, 5], [1, 2, 5]), 2);
  assert.equal(pairedRatio([3, 4], [1, 2, 5]), null, 'different numbers of repetitions');
  assert.equal(pairedRatio([], []), null);
});

test('stage FLOPs: x·W, xᵀ·dy, dy·Wᵀ per dense layer, the synthesizer predict and train', async () => {
  await tf.setBackend('wasm');
  const specs = stageSpecs(smallConfig({ mode: 'cdni' }), 1); // 784-64-32-10, linear cDNI synthesizers
  const first = new Stage(specs[0], { forward() {}, backward() {}, report() {} });
  const middle = new Stage(specs[1], { forward() {}, backward() {}, report() {} });
  try {
    const B = 8;
    const f0 = stageFlops(first, B);
    assert.equal(f0.forward, 2 * B * 784 * 64);
    assert.equal(f0.weightGradient, 2 * B * 784 * 64);
    assert.equal(f0.inputGradient, 0, 'stage 0 sends no gradient down');
    assert.equal(f0.synthesizerPredict, 2 * B * (64 + 10) * 64);
    assert.equal(f0.synthesizerTrain, 2 * B * (64 + 10) * 64, 'lockstep: a linear synthesizer steps from its prediction, dW only');
    assert.deepEqual(f0.uncounted, []);
    const f1 = stageFlops(middle, B);
    assert.equal(f1.inputGradient, 2 * B * 64 * 32);
    const phases = phaseFlops(f1, { steps: 10, updates: 10, synthesizerUpdates: 9 }, { lockedBackprop: false, hasSynthesizer: true });
    assert.equal(phases.forward, 10 * (3 * 2 * B * 64 * 32 + 2 * B * 42 * 32));
    assert.equal(phases.target, 9 * 2 * B * 42 * 32);
    const again = phaseFlops(f1, { steps: 10, updates: 10, synthesizerUpdates: 9, synthesizerRepredictions: 4 }, { lockedBackprop: false, hasSynthesizer: true });
    assert.equal(again.target, 9 * 2 * B * 42 * 32 + 4 * 2 * B * 42 * 32, 'the steps that predicted again add their forward pass');
    const locked = phaseFlops(f1, { steps: 10, updates: 10, synthesizerUpdates: 0 }, { lockedBackprop: true, hasSynthesizer: false });
    assert.equal(locked.forward, 10 * 2 * B * 64 * 32);
    assert.equal(locked.target, 10 * 2 * 2 * B * 64 * 32);
  } finally {
    first.dispose();
    middle.dispose();
  }
});

test('stage FLOPs of conv layers: Ho·Wo·F·k²·C per example for each pass; the largest conv (stage or synthesizer) for the conv ceiling', async () => {
  await tf.setBackend('wasm');
  const config = resolveConfig({ preset: 'mnist-cnn-cdni', overrides: { out: 'unused' } });
  const specs = stageSpecs(config, 1);
  const stages = [0, 1].map((i) => new Stage(specs[i], { forward() {}, backward() {}, report() {} }));
  try {
    const B = 2;
    const [f0, f1] = stages.map((s) => stageFlops(s, B));
    const conv = (h: number, c: number, f: number) => 2 * B * h * h * f * 25 * c; // 5x5 'same'
    assert.equal(f0.forward, conv(28, 1, 16));
    assert.equal(f0.weightGradient, conv(28, 1, 16));
    assert.equal(f0.inputGradient, 0);
    // the conv synthesizer at h[0], of 14x14x(16 + 10 label channels) -> 16, convolves h's 16
    // channels, adds each example's class response (10 per output value), and makes the 10
    // responses as a conv of 10 images of 10 channels (see ConditionedConv2D)
    const synth = conv(14, 16, 16) + 2 * B * 14 * 14 * 16 * 10 + 2 * 10 * 14 * 14 * 16 * 25 * 10;
    assert.equal(f0.synthesizerPredict, synth);
    assert.equal(f0.synthesizerTrain, synth, 'a linear M steps from its prediction: dW (h part, D = cᵀ·dz and the responses)');
    assert.equal(f0.synthesizerRepredict, synth, 'a step that predicts again adds a forward pass');
    assert.deepEqual(f0.uncounted, []);
    assert.deepEqual(f0.largestConv, { inputShape: [14, 14, 16], kernelSize: 5, filters: 16, stride: 1, padding: 'same', flops: conv(14, 16, 16) / B });
    assert.equal(f1.forward, conv(14, 16, 32));
    assert.equal(f1.inputGradient, conv(14, 16, 32));
    // stage 1's synthesizer is dense (h[1] is flat): the largest conv is the stage's own
    assert.equal(f1.synthesizerPredict, 2 * B * 1578 * 1568);
    assert.deepEqual(f1.largestConv?.inputShape, [14, 14, 16]);
  } finally {
    for (const s of stages) s.dispose();
  }
});

test("the conv ceiling: the backend's conv2d of the stages' largest conv layer, as the matMul it amounts to", async () => {
  await tf.setBackend('wasm');
  const config = resolveConfig({ preset: 'mnist-cnn-cdni', overrides: { out: 'unused', train: { batchSize: 4 } } });
  const work = stageWork(config);
  assert.equal(work.length, 3);
  assert.equal(work[2].largestConv, null, 'the dense stage is measured against the matMul ceiling');
  const conv = largestConvOf([work])!;
  assert.deepEqual([conv.inputShape, conv.filters], [[14, 14, 16], 32], 'conv 5x5x32 on 14x14x16 (stage 1) is the largest');
  // stage 0: its own largest conv is the synthesizer's at h[0], 14x14x(16 + 10 label channels) -> 16,
  // which convolves h's 16 channels (the ceiling is measured on those)
  const synth = work[0].largestConv!;
  assert.deepEqual(synth.inputShape, [14, 14, 16]);
  // the synthesizer's pass: its conv on h's channels, the class responses added, and the responses made
  const synthPass = 4 * synth.flops + 2 * 4 * 14 * 14 * 16 * 10 + 2 * 10 * 14 * 14 * 16 * 25 * 10;
  assert.equal(work[0].flopsPerStep, 4 * 2 * (2 * 28 * 28 * 16 * 25) + 2 * synthPass, 'conv1 forward + dW, synthesizer predict + train (dW: a linear M steps from its prediction)');
  assert.equal(work[0].repredictFlops, synthPass, 'a synthesizer step that predicts again: its forward pass, counted by the run');
  const timer = await convTimer(conv, 4);
  try {
    assert.deepEqual([timer.m, timer.k, timer.n, timer.flops], [4 * 14 * 14, 25 * 16, 32, 4 * conv.flops]);
    assert.ok((await timer.once()) > 0);
  } finally {
    timer.dispose();
  }
  const stochastic = resolveConfig({ preset: 'mnist-cdni-stochastic', overrides: { out: 'unused' } });
  assert.ok(stageWork(stochastic).every((w) => w.flopsPerStep === null), 'steps that may not update: no per-step count');
});

test('bench end to end: 3 configurations (one in this thread), 5 steps, 1 repetition; bench.json has every figure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-bench-'));
  try {
    const out = join(dir, 'bench');
    const started: string[] = [];
    const result = await runBench({
      config: smallConfig(),
      configs: ['cdni/sequential', 'cdni/lockstep', 'cdni/async'],
      steps: 20,
      warmup: 7, // rounded up to 10
      repetitions: 1,
      out,
      data: data(),
      matMul: { warmup: 1, reps: 5 },
      onRunStart: (run) => started.push(run.config.name),
    });
    assert.deepEqual(started, ['cdni/sequential', 'cdni/lockstep', 'cdni/async']);
    const json = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchResult;
    assert.equal(json.format, 'synthgrad-bench/1');
    assert.deepEqual(json.settings.order, ['cdni/sequential#1', 'cdni/lockstep#1', 'cdni/async#1']);
    assert.equal(json.settings.steps, 20);
    assert.equal(json.settings.warmup, 10);
    assert.ok(json.machine.cpus >= 1 && json.machine.model && json.machine.node && json.machine.tfjs);
    assert.equal(json.machine.backend, 'wasm');
    assert.ok(json.matMulCeiling.gflops > 0 && json.matMulCeiling.backend === 'wasm');
    // measured before and after the runs; the faster is kept, the other beside it
    assert.ok(json.matMulCeiling.measured && json.matMulCeiling.slower && json.matMulCeiling.slower.measured !== json.matMulCeiling.measured);
    assert.ok(json.matMulCeiling.slower.gflops <= json.matMulCeiling.gflops);
    assert.equal(json.convCeiling, null, 'no conv layer, no conv ceiling');
    assert.deepEqual(Object.keys(json.stageWork), ['cdni/sequential', 'cdni/lockstep', 'cdni/async']);
    assert.ok(json.stageWork['cdni/async'].every((w) => w.flopsPerStep! > 0 && w.largestConv === null));
    assert.equal(json.runs.length, 3);
    for (const run of json.runs) {
      assert.equal(run.steps, 20);
      assert.ok(run.trainSamplesPerSecond > 0);
      // every schedule, in this thread or in workers, is measured from the same step
      assert.equal(run.warmupSteps, 10, run.config);
      assert.ok(run.samplesPerSecond > 0);
      assert.equal(run.stages.length, 3);
      assert.equal(run.stageSource, 'training');
      for (const s of run.stages) for (const k of ['busySeconds', 'waitSeconds', 'sendSeconds', 'utilisation', 'sendShare'] as const) assert.equal(typeof s[k], 'number');
      assert.ok(run.bound >= 1);
      assert.ok('othersCpuSeconds' in run.load && 'othersLoadCores' in run.load && run.load.ownCpuSeconds > 0);
      const file = run.schedule === 'sequential' ? 'sequential.json' : 'summary.json';
      assert.ok(existsSync(join(run.outDir, file)), 'each run has its own run directory inside the bench directory');
      assert.ok(run.outDir.startsWith(out));
    }
    const [sequential] = json.runs;
    assert.equal(sequential.schedule, 'sequential');
    assert.equal(sequential.window, 1);
    assert.ok(sequential.stages.every((s) => s.busySeconds > 0));
    const shares = sequential.stages.reduce((a, s) => a + s.utilisation, 0);
    assert.ok(shares <= 1 + 1e-9, `one thread: the stages' shares of the training time add up to ${shares}, at most 1`);
    assert.deepEqual(json.configs.map((c) => c.config), ['cdni/sequential', 'cdni/lockstep', 'cdni/async']);
    assert.deepEqual(json.speedups.map((s) => `${s.numerator} / ${s.denominator}`), ['cdni/lockstep / cdni/sequential', 'cdni/async / cdni/lockstep', 'cdni/async / cdni/sequential']);
    assert.ok(json.speedups.every((s) => s.speedup > 0));
    assert.equal(json.speedups[0].bound, null, 'lockstep over sequential: no bound');
    assert.ok(json.speedups.slice(1).every((s) => s.bound! >= 1));
    assert.ok('othersLoadCores' in json.load);
    assert.match(benchTable(result), /cdni\/async over cdni\/lockstep[\s\S]*cdni\/async over cdni\/sequential/);
    assert.match(benchTable(result), /samples\/s: after the first 10 steps of each run/);
    // a bench directory is never reused
    await assert.rejects(runBench({ config: smallConfig(), configs: ['cdni/lockstep'], steps: 1, repetitions: 1, out, data: data() }), /not empty/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad configuration name or schedule, or a warm-up that leaves nothing to measure, is refused before anything runs or is written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-bench-'));
  try {
    const out = join(dir, 'bench');
    await assert.rejects(runBench({ config: smallConfig(), configs: ['cdni/async'], steps: 30, warmup: 21, out, data: data() }), /--warmup[\s\S]*below --steps \(30\); got 21/);
    await assert.rejects(runBench({ config: smallConfig(), configs: ['cdni/async'], steps: 30, warmup: -1, out, data: data() }), ConfigError);
    await assert.rejects(runBench({ config: smallConfig(), configs: ['cdni/sideways'], steps: 1, out, data: data() }), ConfigError);
    await assert.rejects(runBench({ config: smallConfig(), configs: ['nope/async'], steps: 1, out, data: data() }), ConfigError);
    assert.equal(existsSync(out), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('warm-up: samples/s over the steps after the mark; default 100 steps, at most a third of the run, in tens', () => {
  const run = { steps: 300, batchSize: 100, trainSeconds: 4, trainSamplesPerSecond: 7500 };
  // 200 steps of 100 in the last 2.5 s
  assert.equal(samplesPerSecondAfter(run, { step: 100, trainSeconds: 1.5 }), 8000);
  assert.equal(samplesPerSecondAfter(run, null), 7500, 'no mark: the whole run');
  assert.equal(samplesPerSecondAfter(run, { step: 300, trainSeconds: 4 }), 7500, 'nothing after the mark: the whole run');
  assert.equal(warmupSteps(300), 100);
  assert.equal(warmupSteps(3000), 100);
  assert.equal(warmupSteps(150), 50);
  assert.equal(warmupSteps(20), 0);
  assert.equal(warmupSteps(300, 0), 0);
  assert.equal(warmupSteps(300, 41), 50);
  assert.throws(() => warmupSteps(300, 300), ConfigError);
  assert.throws(() => warmupSteps(300, 2.5), ConfigError);

  // a record keeps both figures; medians and speedups use the one after warm-up
  const records = [0, 1, 2].map((i) => {
    const summary = { ...fakeSummary('async', 1000 + i, [2, 1]), steps: 300, batchSize: 100, trainSeconds: 4 + i };
    return runRecord(summary, { config: 'cdni/async', repetition: i + 1, index: i, load: quiet, cores: 2 }, null, { step: 100, trainSeconds: 2 });
  });
  assert.deepEqual(records.map((r) => r.warmupSteps), [100, 100, 100]);
  assert.deepEqual(records.map((r) => r.samplesPerSecond), [10000, 20000 / 3, 5000]);
  const [config] = aggregate(records);
  assert.equal(config.medianSamplesPerSecond, 20000 / 3);
  assert.equal(config.medianWholeRunSamplesPerSecond, 1001);
});

test('a ceiling measured twice: the faster is kept, with the slower beside it, whichever came first', () => {
  const idle: LoadSample = { wallSeconds: 1, ownCpuSeconds: 1, machineCpuSeconds: 1, othersCpuSeconds: 0, othersLoadCores: 0 };
  const ceiling = (gflops: number, measured: 'before the runs' | 'after the runs'): MeasuredCeiling => ({
    backend: 'wasm', m: 1, k: 1, n: 1, flops: 2, warmup: 1, reps: 1, medianMs: 2 / gflops, minMs: 2 / gflops, gflops, wasmThreads: 1, wasmSimd: true, load: idle, measured,
  });
  const slowFirst = faster(ceiling(13.1, 'before the runs'), ceiling(34.3, 'after the runs'));
  assert.equal(slowFirst.gflops, 34.3);
  assert.equal(slowFirst.measured, 'after the runs');
  assert.deepEqual(slowFirst.slower, { gflops: 13.1, medianMs: 2 / 13.1, measured: 'before the runs', load: idle });
  const fastFirst = faster(ceiling(33, 'before the runs'), ceiling(20, 'after the runs'));
  assert.equal(fastFirst.measured, 'before the runs');
  assert.equal(fastFirst.slower!.gflops, 20);
  const r = fakeResult(fakeRuns());
  const table = benchTable({ ...r, configs: aggregate(r.runs), matMulCeiling: slowFirst });
  assert.match(table, /matMul ceiling, one thread: 34\.3 GFLOP\/s .*; after the runs, others' load meanwhile 0\.00 cores \(before the runs: 13\.1 GFLOP\/s, others' load 0\.00 cores\)/);
});
