import * as tf from '@tensorflow/tfjs-core';
import type { Sequential, Adam } from '../model/index.js';
import { buildHelperNet, denseHelperLayers, regressionStep, type HelperNetOptions } from './helper-net.js';

export interface InputModelOptions extends HelperNetOptions {
  /** Width of the data x. */
  dataUnits: number;
  /** Width of the interface h[s-1] it predicts. */
  units: number;
}

/**
 * I[s] (complete unlock, docs/dni.md): predicts stage s's input ĥ[s-1] ≈ h[s-1] from the data x, so
 * stage s can train without waiting for the stages below. Hidden layers are dense + optional
 * BatchNorm + ReLU, the output layer is linear; all start from Glorot-uniform weights (unlike a
 * synthesizer's, a zero output would hand the stage a constant input to train on).
 */
export class InputModel {
  readonly net: Sequential;
  readonly optimizer: Adam;

  constructor(options: InputModelOptions) {
    ({ net: this.net, optimizer: this.optimizer } = buildHelperNet('input', [options.dataUnits], denseHelperLayers(options, options.units), options, false));
  }

  /** ĥ = I(x), a constant input for the stage (BatchNorm, if any, on batch statistics). */
  predict(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.net.forward(x, true).y as tf.Tensor2D);
  }

  /** One step on ||I(x) - h||^2 (mean over rows, summed over features), taken at once; the loss before the step comes when read. */
  async train(x: tf.Tensor2D, h: tf.Tensor2D): Promise<number> {
    const rows = x.shape[0];
    const [squares] = await regressionStep(this.net, this.optimizer, () => ({ x }), h, 1);
    return squares / rows;
  }

  set learningRate(value: number) {
    this.optimizer.learningRate = value;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.net.dispose();
  }
}
