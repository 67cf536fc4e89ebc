import * as tf from '@tensorflow/tfjs-core';
import { performance } from 'node:perf_hooks';
import type { Config } from '../../config/schema.js';
import { stageSpecs } from '../../stage/stage-spec.js';
import type { LayerCosts } from '../../pipeline/grouping.js';
import { oneHot } from '../../stage/loss.js';
import { synthesizerOf } from '../../stage/gradient/index.js';
import { selectBackend } from '../../runtime/backend.js';
import { StageDriver } from './stage-driver.js';
import { median } from './stats.js';

export interface MeasuredLayerCosts extends LayerCosts {
  /** Median milliseconds of a one-layer stage's step (DNI steps 1-5), layer by layer. */
  stageMs: number[];
  backend: string;
  steps: number;
}

/**
 * Measures, in this thread and one layer per stage, what each layer costs per training step: the
 * median step of a stage holding it alone (as profile-stage drives it), less the median of its
 * synthesizer's prediction and training step, which is what a stage boundary after it adds. The
 * stages are stepped in turn, so all see the same load on a shared machine.
 */
export async function measureLayerCosts(config: Config, steps = 30, warmup = 5): Promise<MeasuredLayerCosts> {
  const backend = await selectBackend(config.backend);
  const B = config.train.batchSize;
  const specs = stageSpecs({ ...config, stages: undefined }, 1);
  const drivers = specs.map((spec) => new StageDriver(spec, B, config.train.seed));
  const stageMs: number[][] = specs.map(() => []);
  const synthMs: number[][] = specs.map(() => []);
  try {
    for (let i = 0; i < warmup + steps; i++) {
      for (const [s, driver] of drivers.entries()) {
        const { forwardMs, targetMs } = await driver.step();
        const synth = await timeSynthesizer(driver);
        if (i < warmup) continue;
        stageMs[s].push(forwardMs + targetMs);
        synthMs[s].push(synth);
      }
    }
  } finally {
    for (const driver of drivers) driver.dispose();
  }
  const stage = stageMs.map(median);
  const synth = synthMs.map(median);
  return {
    layer: stage.map((ms, i) => Math.max(0, ms - synth[i])),
    interface: synth,
    stageMs: stage,
    backend: backend.name,
    steps,
  };
}

/** Milliseconds of one prediction and one training step of the driven stage's synthesizer (0: none). */
async function timeSynthesizer(driver: StageDriver): Promise<number> {
  const synth = synthesizerOf(driver.stage.source);
  if (!synth) return 0;
  const B = driver.batchSize;
  const shape = [B, ...driver.spec.outputShape];
  const h = tf.randomUniform(shape);
  const target = tf.randomUniform(shape, -1 / B, 1 / B);
  const labels = driver.spec.mode === 'cdni' ? oneHot(new Uint8Array(B), driver.spec.classes) : null;
  const t0 = performance.now();
  const used = synth.predict(h, labels);
  await synth.train(h, labels, target, used);
  const ms = performance.now() - t0;
  tf.dispose([h, target, labels ?? [], used]);
  return ms;
}
