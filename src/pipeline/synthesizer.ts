import * as tf from '@tensorflow/tfjs';
import type { Sequential, Adam } from '../model/index.js';
import { buildHelperNet, type HelperNetOptions } from './helper-net.js';

export interface SynthesizerOptions extends HelperNetOptions {
  /** Width of the interface h[s] (and of the gradient it predicts). */
  units: number;
  /** cDNI: the synthesizer also sees the one-hot label. */
  conditioned: boolean;
  classes: number;
}

export interface SynthesizerStep {
  /** ||M(h, c) - g||^2, mean over the batch, summed over features. */
  loss: number;
  /** Cosine similarity of the gradient that was used (ĝ) with the target g that came later. */
  cosine: number;
}

/**
 * M[s]: predicts ĝ ≈ dL/dh[s] from h[s] (and the label, for cDNI). The output layer starts at zero,
 * so ĝ = 0 until the synthesizer has learned something.
 *
 * It works in per-example units: with the task loss a mean over B rows, each row of dL/dh is
 * 1/B of that example's own gradient. The synthesizer predicts the per-example gradient (its target
 * is g·B and the stage applies M(h, c)/B), so what it learns does not depend on the batch size and
 * its outputs are of order one rather than 1/B, which keeps Adam's steps in proportion.
 */
export class Synthesizer {
  readonly net: Sequential;
  readonly optimizer: Adam;

  constructor(private readonly options: SynthesizerOptions) {
    const inputUnits = options.units + (options.conditioned ? options.classes : 0);
    ({ net: this.net, optimizer: this.optimizer } = buildHelperNet('synthesizer', inputUnits, options.units, options, true));
  }

  private input(h: tf.Tensor2D, oneHot: tf.Tensor2D | null): tf.Tensor2D {
    return this.options.conditioned && oneHot ? tf.concat([h, oneHot], 1) : h;
  }

  /** ĝ = M(h, c) / B, a constant for the stage's backward pass. */
  predict(h: tf.Tensor2D, oneHot: tf.Tensor2D | null): tf.Tensor2D {
    return tf.tidy(() => tf.div(this.net.forward(this.input(h, oneHot), true).y, h.shape[0]) as tf.Tensor2D);
  }

  /** One step on ||M(h, c) - g·B||^2 (mean over rows); `used` is the ĝ the stage applied for this batch. */
  train(h: tf.Tensor2D, oneHot: tf.Tensor2D | null, target: tf.Tensor2D, used: tf.Tensor2D): SynthesizerStep {
    const [loss, cosine] = tf.tidy(() => {
      const { y, trace } = this.net.forward(this.input(h, oneHot), true);
      const rows = h.shape[0];
      const diff = tf.sub(y, tf.mul(target, rows));
      const lossValue = tf.sum(tf.square(diff)).div(rows);
      const { grads } = this.net.backward(trace, tf.mul(diff, 2 / rows) as tf.Tensor2D, false);
      this.optimizer.step(grads);
      // sqrt(sum(x²)) rather than tf.norm, whose Pow kernel is slow on wasm
      const norms = tf.sqrt(tf.mul(tf.sum(tf.square(used)), tf.sum(tf.square(target))));
      const cos = tf.div(tf.sum(tf.mul(used, target)), tf.maximum(norms, 1e-12));
      return [lossValue, cos];
    });
    const values = [loss.dataSync()[0], cosine.dataSync()[0]];
    tf.dispose([loss, cosine]);
    return { loss: values[0], cosine: values[1] };
  }

  set learningRate(value: number) {
    this.optimizer.learningRate = value;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.net.dispose();
  }
}
