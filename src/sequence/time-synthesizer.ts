import * as tf from '@tensorflow/tfjs-core';
import type { Adam, Sequential } from '../model/index.js';
import { buildHelperNet, denseHelperLayers, type HelperNetOptions } from '../stage/helper-net.js';

export interface TimeSynthesizerOptions extends HelperNetOptions {
  /** Units of the state at the boundary: [h, c] of an LSTM, 2·units. */
  stateUnits: number;
  /** Units of the gradient it predicts: the whole state's (stateUnits), or h's alone (see SequenceTrainerOptions.gradientAt). */
  gradientUnits: number;
  /** DNI + Aux: a second head predicts the synthetic gradient of the next boundary. */
  aux: boolean;
}

export interface TimeSynthesizerStep {
  /** ||M(s) - target||² (per-example units), mean over the batch. */
  loss: number;
  /** Cosine of the ĝ that was used at this boundary with the target that came a window later. */
  cosine: number;
  /** DNI + Aux: the auxiliary head's squared error, mean over the batch (NaN without it). */
  auxLoss: number;
}

/** Rows of earlier boundaries that M trains on again (replay): their states, targets and (aux) auxiliary targets, stacked. */
export interface ReplayedRows {
  state: tf.Tensor2D;
  target: tf.Tensor2D;
  auxTarget: tf.Tensor2D | null;
}

/**
 * M at the boundary between two windows of truncated BPTT: from the state s = [h_T, c_T] at the
 * end of a window it predicts the gradient the future would send back into s. Its output layer
 * starts at zero (ĝ = 0 until it has learned). As the feed-forward synthesizer, it works in
 * per-example units: the window loss is a mean over the B streams, so each row of dL/ds is 1/B of
 * that stream's own gradient; M predicts the stream's own (its target is B·dL/ds) and ĝ = M(s)/B.
 */
export class TimeSynthesizer {
  readonly net: Sequential;
  readonly optimizer: Adam;

  constructor(private readonly options: TimeSynthesizerOptions) {
    const outputs = options.gradientUnits * (options.aux ? 2 : 1);
    ({ net: this.net, optimizer: this.optimizer } = buildHelperNet('time-synthesizer', [options.stateUnits], denseHelperLayers(options, outputs), options, true));
  }

  /**
   * M(s) in per-example units: the synthetic gradient [B, gradientUnits] (divide by B before use) and,
   * with aux, the prediction of the next boundary's synthetic gradient (null without).
   */
  predict(state: tf.Tensor2D): { gradient: tf.Tensor2D; next: tf.Tensor2D | null } {
    const out = tf.tidy(() => {
      const y = this.net.forward(state, false).y as tf.Tensor2D;
      return this.options.aux ? tf.split(y, 2, 1) : [y];
    });
    return { gradient: out[0] as tf.Tensor2D, next: this.options.aux ? (out[1] as tf.Tensor2D) : null };
  }

  /**
   * One Adam step on ||M(s) - target||² (+ ||aux(s) - auxTarget||²), means over the rows, all in
   * per-example units: `target` is the bootstrapped target B·dL/ds (the true gradient from the next
   * window plus that window's own ĝ pushed back through it), `auxTarget` the synthetic gradient the
   * next boundary produced, `used` the ĝ (per-example) that this boundary applied. `replayed`: rows
   * of earlier boundaries (their states and targets as they were then) trained on in the same step;
   * the loss and cosine reported are this boundary's.
   */
  train(state: tf.Tensor2D, target: tf.Tensor2D, auxTarget: tf.Tensor2D | null, used: tf.Tensor2D, replayed?: ReplayedRows | null): TimeSynthesizerStep {
    if (this.options.aux !== (auxTarget !== null)) throw new Error(`time synthesizer: aux is ${this.options.aux} but ${auxTarget ? 'an' : 'no'} auxiliary target was given`);
    if (replayed && this.options.aux !== (replayed.auxTarget !== null)) throw new Error(`time synthesizer: aux is ${this.options.aux} but the replayed rows ${replayed.auxTarget ? 'have' : 'lack'} auxiliary targets`);
    const rows = state.shape[0];
    const sums = tf.tidy(() => {
      const x = replayed ? tf.concat([state, replayed.state], 0) : state;
      const own = auxTarget ? tf.concat([target, auxTarget], 1) : target;
      const earlier = replayed && (replayed.auxTarget ? tf.concat([replayed.target, replayed.auxTarget], 1) : replayed.target);
      const full = earlier ? tf.concat([own, earlier], 0) : own;
      const { y, trace } = this.net.forward(x, true);
      const diffAll = tf.sub(y, full);
      const { grads } = this.net.backward(trace, tf.mul(diffAll, 2 / x.shape[0]), false);
      this.optimizer.step(grads);
      const n = this.options.gradientUnits;
      const diff = replayed ? tf.slice(diffAll, [0, 0], [rows, -1]) : diffAll;
      const main = tf.slice(diff, [0, 0], [rows, n]);
      const dot = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(a, b));
      const auxSquares = auxTarget ? dot(tf.slice(diff, [0, n], [rows, n]), tf.slice(diff, [0, n], [rows, n])) : tf.scalar(NaN);
      return tf.stack([dot(main, main), dot(used, target), dot(used, used), dot(target, target), auxSquares]);
    });
    const [squares, usedTarget, usedSquares, targetSquares, auxSquares] = Array.from(sums.dataSync());
    sums.dispose();
    return { loss: squares / rows, cosine: usedTarget / Math.max(Math.sqrt(usedSquares * targetSquares), 1e-12), auxLoss: auxSquares / rows };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.net.dispose();
  }
}
