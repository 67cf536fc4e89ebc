import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { ThreadStageHost } from '../src/transport/threads/thread-host.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import type { StageStats } from '../src/stage/protocol.js';
import type { Config } from '../src/config/schema.js';
import { smallConfig, smallCnnConfig, trainingBatches, copyBatch } from './helpers/fixtures.js';
import { withTempDir } from './helpers/temp-dir.js';
import { requireAdapter } from './helpers/webgpu.js';

const batches = trainingBatches(10, 32);

/** Trains `config` on batches [from, to) in its stages (restored from checkpoint files when given), checkpointing at the end to files named `checkpointTo` + stageN.msgpack when given. */
async function train(config: Config, from: number, to: number, options: { restore?: string[]; checkpointTo?: string; statsAt?: number } = {}) {
  const specs = stageSpecs(config, 2).map((s, i) => ({ ...s, ...(options.restore && { restore: options.restore[i] }) }));
  const pipeline = await Pipeline.start(specs, {}, new ThreadStageHost());
  const stats: StageStats[][] = [];
  try {
    const restored = await pipeline.weights();
    for (let step = from; step < to; step++) {
      await pipeline.credit(2);
      pipeline.feed(copyBatch(batches[step]), step);
      if (step + 1 === options.statsAt) {
        await pipeline.drain();
        stats.push(await pipeline.stats());
      }
    }
    await pipeline.drain();
    stats.push(await pipeline.stats());
    const files = options.checkpointTo ? specs.map((s) => `${options.checkpointTo}stage${s.index}.msgpack`) : [];
    if (options.checkpointTo) await pipeline.checkpoint(files, to);
    return { restored, weights: await pipeline.weights(), stats, files };
  } finally {
    await pipeline.stop();
  }
}

test('cDNI with synthetic inputs trains on webgpu stages: tensors stay flat, reads are timed, and a checkpoint moves between webgpu and wasm', async () => {
  await requireAdapter();
  const config = (backend: 'webgpu' | 'wasm') => smallConfig({ mode: 'cdni', backend, syntheticInputs: { hiddenLayers: [16], batchNorm: true } });
  await withTempDir('synthgrad-webgpu-', async (dir) => {
    const gpu = await train(config('webgpu'), 0, 8, { statsAt: 3, checkpointTo: join(dir, 'webgpu-') });
    const [warm, end] = gpu.stats;
    for (const [s, stats] of end.entries()) {
      assert.ok(stats.memory && warm[s].memory, `stage ${s} reports its memory`);
      assert.equal(stats.memory?.tensors, warm[s].memory?.tensors, `stage ${s}: live tensors after warm-up and at the end`);
      assert.ok(stats.readSeconds! > 0 && stats.reads! > 0, `stage ${s} times its reads`);
      assert.ok(stats.readSeconds! <= stats.busySeconds, `stage ${s}: reads happen within steps`);
      assert.ok(stats.updates > 0 && Number.isFinite(stats.updates));
    }
    assert.ok(end.slice(0, -1).every((s) => s.synthesizerLoss !== null && Number.isFinite(s.synthesizerLoss)), 'the synthesizers trained');
    assert.ok(end.slice(1).every((s) => s.inputModelLoss !== null && Number.isFinite(s.inputModelLoss!)), 'the input models trained');
    // written on webgpu, resumed on wasm: the same weights, and training goes on
    const onWasm = await train(config('wasm'), 8, 10, { restore: gpu.files, checkpointTo: join(dir, 'wasm-') });
    assert.deepEqual(onWasm.restored, gpu.weights);
    assert.notDeepEqual(onWasm.weights, gpu.weights);
    // and back
    const again = await train(config('webgpu'), 10, 10, { restore: onWasm.files });
    assert.deepEqual(again.restored, onWasm.weights);
  });
});

test('a CNN (conv, BatchNorm, pooling) with convolutional synthesizers trains on webgpu stages', async () => {
  await requireAdapter();
  const config = smallCnnConfig({ mode: 'cdni', backend: 'webgpu', synthesizer: { hiddenLayers: [4], kernelSize: 3 } });
  const { stats } = await train(config, 0, 4);
  const [end] = stats;
  assert.ok(end.every((s) => s.updates > 0));
  assert.ok(end.slice(0, -1).every((s) => s.synthesizerLoss !== null && Number.isFinite(s.synthesizerLoss)));
});
