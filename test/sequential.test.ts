/**
 * "Sequential equals lockstep": every stage in this thread, one after another (the bench's
 * `sequential`), trains exactly as the stage workers do under `lockstep`: after K steps each
 * stage's state (weights, Adam moments, synthesizer, update stream, counters) is bit-identical to
 * the final checkpoint of a `train` run of the same config and seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { effectiveWindow, train } from '../src/train.js';
import { trainSequential, trainingOrder, SequentialStages } from '../src/lab/bench/sequential.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { decodeStageState, type StageState } from '../src/stage/stage-state.js';
import type { Manifest } from '../src/checkpoint/manifest.js';
import type { Config } from '../src/config/schema.js';
import type { Dataset, Split } from '../src/data/index.js';
import { data, smallCnnConfig, smallConfig } from './helpers/fixtures.js';

function head(split: Split, count: number): Split {
  const size = split.rows * split.cols * (split.channels ?? 1);
  return { ...split, count, images: split.images.subarray(0, count * size), labels: split.labels.subarray(0, count) };
}

/** 200 training examples (6 batches of 32 an epoch, so 8 steps cross an epoch), small evaluation sets. */
function smallData(): Dataset {
  const d = data();
  return { train: head(d.train, 200), validation: head(d.validation, 64), test: head(d.test, 64) };
}

/** The stage states of the final checkpoint of a worker-thread `train` run. */
async function lockstepStates(config: Config, dataset: Dataset, out: string): Promise<StageState[]> {
  const summary = await train({ ...config, out }, { data: dataset });
  assert.equal(summary.schedule, 'lockstep');
  const manifest = JSON.parse(readFileSync(join(out, 'checkpoint', 'manifest.json'), 'utf8')) as Manifest;
  assert.equal(manifest.progress.step, config.train.maxSteps);
  return manifest.stages.map((s) => {
    const file = join(out, 'checkpoint', s.file);
    return decodeStageState(readFileSync(file), file);
  });
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Where two sets of stage states first differ, to the bit (null: nowhere). Counters the worker adds (times) are left out. */
function firstDifference(a: StageState[], b: StageState[]): string | null {
  if (a.length !== b.length) return `${a.length} vs ${b.length} stages`;
  for (const [s, x] of a.entries()) {
    const y = b[s];
    const arrays: [string, Float32Array[], Float32Array[]][] = [
      ['weights', x.weights, y.weights],
      ['optimizer', x.optimizer, y.optimizer],
      ['synthesizer weights', x.synthesizer?.weights ?? [], y.synthesizer?.weights ?? []],
      ['synthesizer optimizer', x.synthesizer?.optimizer ?? [], y.synthesizer?.optimizer ?? []],
    ];
    if (!!x.synthesizer !== !!y.synthesizer) return `stage ${s}: synthesizer present in one only`;
    for (const [what, p, q] of arrays) {
      if (p.length !== q.length) return `stage ${s} ${what}: ${p.length} vs ${q.length} arrays`;
      const i = p.findIndex((v, k) => !bytes(v).equals(bytes(q[k])));
      if (i >= 0) return `stage ${s} ${what} array ${i}`;
    }
    if (JSON.stringify(x.updateStream) !== JSON.stringify(y.updateStream)) return `stage ${s} update stream`;
    for (const key of Object.keys(x.counters)) if (x.counters[key] !== y.counters[key]) return `stage ${s} counter ${key}: ${x.counters[key]} vs ${y.counters[key]}`;
  }
  return null;
}

async function assertSequentialEqualsLockstep(config: Config, dataset: Dataset): Promise<StageState[]> {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-seq-'));
  try {
    const expected = await lockstepStates(config, dataset, join(dir, 'lockstep'));
    const result = await trainSequential(config, { data: dataset, keepStates: true });
    assert.equal(result.steps, config.train.maxSteps);
    assert.equal(result.schedule, 'sequential');
    assert.equal(firstDifference(result.states!, expected), null);
    // the comparison is not between two untouched initialisations
    assert.ok(result.states!.every((s) => s.counters.updates > 0), 'every stage updated its weights');
    return expected;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('cDNI with stochastic updates, across an epoch boundary: sequential in one thread equals lockstep in workers, bit for bit; another seed does not', async () => {
  const dataset = smallData();
  const config = smallConfig({ mode: 'cdni', train: { maxSteps: 8, epochs: 2, updateProbability: 0.5, seed: 3 } });
  const lockstep = await assertSequentialEqualsLockstep(config, dataset);
  assert.ok(lockstep.some((s) => s.counters.skippedUpdates > 0), 'some updates were skipped');

  // the test can fail: another seed, or the same batches in another order, give other states
  const otherSeed = await trainSequential({ ...config, train: { ...config.train, seed: 4 } }, { data: dataset, keepStates: true });
  assert.notEqual(firstDifference(otherSeed.states!, lockstep), null);
  const batches = [...trainingOrder(dataset.train, config)];
  assert.equal(batches.length, 8);
  [batches[2], batches[3]] = [batches[3], batches[2]];
  const stages = new SequentialStages(stageSpecs(config, effectiveWindow(config)));
  try {
    for (const [step, batch] of batches.entries()) await stages.step(batch, step);
    assert.notEqual(firstDifference(await stages.states(8), lockstep), null);
  } finally {
    stages.dispose();
  }
});

test('DNI and backprop: sequential equals lockstep, bit for bit', async () => {
  const dataset = smallData();
  await assertSequentialEqualsLockstep(smallConfig({ mode: 'dni', synthesizer: { hiddenLayers: [16] }, train: { maxSteps: 6, seed: 5 } }), dataset);
  await assertSequentialEqualsLockstep(smallConfig({ mode: 'backprop', train: { maxSteps: 6, seed: 5 } }), dataset);
});

test('a cDNI CNN on the cpu backend (spatial interfaces, conv synthesizer): sequential equals lockstep, bit for bit', async () => {
  await assertSequentialEqualsLockstep(smallCnnConfig({ mode: 'cdni', backend: 'cpu', train: { maxSteps: 4, batchSize: 16, seed: 2 } }), smallData());
});

test('sequential refuses a schedule other than lockstep', async () => {
  const config = smallConfig({ mode: 'cdni', train: { schedule: 'async', maxSteps: 2 } });
  await assert.rejects(trainSequential(config, { data: smallData() }), /lockstep order/);
});
