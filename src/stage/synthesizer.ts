import * as tf from '@tensorflow/tfjs-core';
import type { Sequential, Adam, LayerSpec } from '../model/index.js';
import { buildHelperNet, denseHelperLayers, regressionStep, regressionStepFromPrediction, type HelperInput, type HelperNetOptions } from './helper-net.js';
import { ops } from '../runtime/ops.js';

export interface SynthesizerOptions extends HelperNetOptions {
  /**
   * Per-example shape of the interface h[s] (and of the gradient it predicts): [units], or
   * [height, width, channels] for a convolutional synthesizer.
   */
  shape: number[];
  /** cDNI: the synthesizer also sees the one-hot label. */
  conditioned: boolean;
  classes: number;
  /** Kernel size of a convolutional synthesizer's layers. */
  kernelSize: number;
}

export interface SynthesizerStep {
  /** ||M(h, c) - g||^2, mean over the batch, summed over features. */
  loss: number;
  /** Cosine similarity of the gradient that was used (ĝ) with the target g that came later. */
  cosine: number;
}

/**
 * The layers of M[s] for an interface of `shape`: dense layers for a flat interface; for a spatial
 * one ([height, width, channels], NHWC), 'same' convolutions (the paper's CIFAR synthesizer: 5x5
 * conv layers with BatchNorm and ReLU, then a 5x5 conv to h's channels). The hidden widths are
 * units or filters; the output layer is linear and starts at zero.
 */
function synthesizerLayers(options: SynthesizerOptions): { hidden: LayerSpec[]; output: LayerSpec } {
  const { shape, batchNorm, kernelSize } = options;
  if (shape.length === 3) {
    return {
      hidden: options.hiddenLayers.map((filters) => ({ type: 'conv2d', filters, kernelSize, batchNorm, activation: 'relu' })),
      output: { type: 'conv2d', filters: shape[2], kernelSize, activation: 'linear' },
    };
  }
  if (shape.length !== 1) throw new Error(`synthesizer: interface shape must be [units] or [height, width, channels], got [${shape.join(', ')}]`);
  return denseHelperLayers(options, shape[0]);
}

/**
 * M[s]: predicts ĝ ≈ dL/dh[s] from h[s] (and the label, for cDNI). The output layer starts at zero,
 * so ĝ = 0 until the synthesizer has learned something.
 *
 * It works in per-example units: with the task loss a mean over B rows, each row of dL/dh is
 * 1/B of that example's own gradient. The synthesizer predicts the per-example gradient (its target
 * is g·B and the stage applies M(h, c)/B), so what it learns does not depend on the batch size and
 * its outputs are of order one rather than 1/B, which keeps Adam's steps in proportion.
 *
 * cDNI: the one-hot label is appended to h (flat), or enters as `classes` extra channels that are
 * constant over height and width (spatial): M's first conv is then a ConditionedConv2D, which
 * computes exactly that conv without building those channels or convolving them.
 */
export class Synthesizer {
  readonly net: Sequential;
  readonly optimizer: Adam;
  /** Steps taken so far: a prediction made at this version is M's output now. */
  version = 0;

  constructor(private readonly options: SynthesizerOptions) {
    const label = options.conditioned ? options.classes : 0;
    const inputShape = options.shape.map((d, i) => (i === options.shape.length - 1 ? d + label : d));
    const spatial = options.shape.length === 3;
    const layers = synthesizerLayers(options);
    ({ net: this.net, optimizer: this.optimizer } = buildHelperNet('synthesizer', inputShape, layers, options, true, spatial ? label : 0));
  }

  /**
   * [h, c]: the label as extra features (flat h); a spatial h goes as it is, with the label as the
   * condition of M's first convolution (its channels, constant over the image, are never built).
   */
  private input(h: tf.Tensor, oneHot: tf.Tensor2D | null): HelperInput {
    if (!this.options.conditioned || !oneHot) return { x: h };
    if (h.rank === 2) return { x: ops().concatColumns(h as tf.Tensor2D, oneHot) };
    return { x: h, condition: oneHot };
  }

  /** ĝ = M(h, c) / B, a constant for the stage's backward pass. */
  predict(h: tf.Tensor, oneHot: tf.Tensor2D | null): tf.Tensor {
    return tf.tidy(() => {
      const { x, condition } = this.input(h, oneHot);
      return tf.div(this.net.forward(x, true, condition).y, h.shape[0]);
    });
  }

  /**
   * One step on ||M(h, c) - g·B||^2 (mean over rows); `used` is the gradient the stage applied for
   * this batch (the cosine is taken with it). `prediction`: M(h, c)/B predicted for the batch by M
   * as it is now (at this `version`: always so in lockstep); a linear M then takes its step from it
   * (B·prediction) instead of predicting again, the same values up to rounding. Otherwise (a deeper
   * M, or a prediction M has moved on from since) M predicts again. The step is taken at once (the
   * tensors may be disposed when this returns); its loss and cosine come when read.
   */
  async train(h: tf.Tensor, oneHot: tf.Tensor2D | null, target: tf.Tensor, used: tf.Tensor, prediction?: tf.Tensor): Promise<SynthesizerStep> {
    const rows = h.shape[0];
    const input = () => this.input(h, oneHot);
    this.version += 1;
    const [squares, usedTarget, usedSquares, targetSquares] =
      prediction && !this.predictsAgain(prediction)
        ? await regressionStepFromPrediction(this.net, this.optimizer, input, target, rows, prediction, used)
        : await regressionStep(this.net, this.optimizer, input, target, rows, used);
    return { loss: squares / rows, cosine: usedTarget / Math.max(Math.sqrt(usedSquares * targetSquares), 1e-12) };
  }

  /** Whether train, given this `prediction` (or none), runs M forward again for the batch. */
  predictsAgain(prediction: tf.Tensor | undefined): boolean {
    return !(prediction && this.stepsFromPrediction);
  }

  /** A linear M (no hidden layers) takes its regression step from its prediction, when given one (see train). */
  get stepsFromPrediction(): boolean {
    return this.options.hiddenLayers.length === 0;
  }

  set learningRate(value: number) {
    this.optimizer.learningRate = value;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.net.dispose();
  }
}

