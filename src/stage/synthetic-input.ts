import * as tf from '@tensorflow/tfjs-core';
import { InputModel } from './input-model.js';
import type { Sequential } from '../model/index.js';
import type { ForwardMessage, InputMessage } from './protocol.js';
import type { StageSpec } from './stage-spec.js';
import { stream } from './rng.js';
import { PendingMeans } from './pending-means.js';

/**
 * What an unlocked stage s (complete unlock) keeps beside its layers: I[s], and the data batches x_t
 * whose real input h[s-1]_t has not come yet.
 *
 * Order within one step t: the stage's own pass on x_t comes first; the real h[s-1]_t is held back
 * until then (`ready`; the stage loop holds the target for t back likewise). The two may then come
 * in either order: they touch I[s] (and BatchNorm's running statistics) and M[s] respectively, so
 * they commute and a lockstep run stays deterministic. Credits keep at most `window` steps in
 * flight, which bounds the batches kept.
 */
export class SyntheticInput {
  readonly model: InputModel;
  private readonly inputs = new Map<number, tf.Tensor2D>();
  /** I[s]'s loss per step, read without waiting. */
  private readonly losses = new PendingMeans(['loss'] as const);

  constructor(private readonly spec: StageSpec) {
    const config = spec.syntheticInputs!;
    const { learningRate, beta1, beta2, epsilon } = spec.optimizer;
    this.model = new InputModel({
      dataUnits: spec.dataUnits,
      units: spec.inputUnits,
      hiddenLayers: config.hiddenLayers,
      batchNorm: config.batchNorm,
      learningRate: config.learningRate ?? learningRate,
      beta1,
      beta2,
      epsilon,
      rng: stream(spec.seed, 'init', 'input', spec.index),
    });
  }

  /** ĥ[s-1]_t = I[s](x_t); x_t is kept until h[s-1]_t arrives. */
  predict(message: InputMessage): tf.Tensor2D {
    if (this.inputs.size >= this.spec.cacheSize) {
      throw new Error(`stage ${this.spec.index}: more than ${this.spec.cacheSize} data batches wait for their real input`);
    }
    const x = tf.tensor2d(message.activations, [message.rows, this.spec.dataUnits]);
    this.inputs.set(message.step, x);
    return this.model.predict(x);
  }

  /** A training batch from below waits until the stage's own pass on its x_t. */
  ready(message: ForwardMessage): boolean {
    return message.eval !== undefined || message.marker === true || message.probe === true || this.inputs.has(message.step);
  }

  /** I[s] takes one step on ||I(x_t) - h[s-1]_t||^2 with the real input; x_t is forgotten. */
  learn(step: number, h: tf.Tensor2D): void {
    const x = this.inputs.get(step);
    if (!x) throw new Error(`stage ${this.spec.index}: the real input of step ${step} arrived before its data batch`);
    this.inputs.delete(step);
    this.losses.add(this.model.train(x, h).then((loss) => ({ loss })));
    x.dispose();
  }

  /** Data batches whose real input has not come yet. */
  get waiting(): number {
    return this.inputs.size;
  }

  abandon(steps: Set<number>): void {
    for (const step of steps) {
      this.inputs.get(step)?.dispose();
      this.inputs.delete(step);
    }
  }

  /** Mean of I[s]'s loss since the last call (null: no step). */
  async takeLossMean(): Promise<number | null> {
    return (await this.losses.take()).loss;
  }

  set learningRate(value: number) {
    this.model.learningRate = value;
  }

  dispose(): void {
    for (const x of this.inputs.values()) x.dispose();
    this.inputs.clear();
    this.model.dispose();
  }
}

/**
 * Runs `pass` (a training-mode forward) and then puts the net's BatchNorm running statistics back as
 * they were: an unlocked stage's pass on ĥ = I(x) must not move them away from the real inputs'.
 */
export function keepRunningStatistics<T>(net: Sequential, pass: () => T): T {
  const saved = net.state.map((v) => tf.clone(v));
  try {
    return pass();
  } finally {
    net.state.forEach((v, i) => v.assign(saved[i]));
    tf.dispose(saved);
  }
}
