import * as tf from '@tensorflow/tfjs-core';
import type { BackwardMessage } from '../protocol.js';
import { ownedValues } from '../../runtime/read.js';
import { FromAbove } from './from-above.js';
import { FromLoss } from './from-loss.js';
import type { GradientSource, KickbackLink } from './source.js';

/**
 * Kickback (Balduzzi, Vanchinathan and Buhmann 2015, "Kickback cuts Backprop's red-tape:
 * Biologically plausible credit assignment in neural networks", AAAI), defined there for a network
 * with one output: every hidden unit j gets the global error β (one number per example) times its
 * kickback κ_j = Σ_k w_jk·1[k active], the sum of its weights into the units of the next layer that
 * are active, instead of the error backpropagated through all the layers above.
 *
 * A two-class softmax has one output: z = z1 - z0, with error β = e1 = -e0 (e = dL/dlogits). So:
 * - the last stage sends down the exact e Wᵀ (= β·(w1 - w0), kickback's own feedback to the layer
 *   below the output) with e itself beside it;
 * - a stage below the last applies what comes from above, and sends down the backward pass of its
 *   layers from β·1 at its output (1: a one at every output unit) instead of from the gradient it
 *   applies: through a dense layer with ReLU that is β·(1[active] Wᵀ) = β·κ, with e beside it. With
 *   BatchNorm the same pass goes through BatchNorm's backward (Balduzzi et al.'s networks have none).
 * The stage waits for its gradient (update-locked, like backprop); docs/gradient-sources.md.
 */
export class Kickback extends FromAbove implements GradientSource {
  private error: Float32Array | null = null;
  readonly kickback: KickbackLink = {
    error: async () => {
      const error = this.error;
      if (!error) throw new Error('kickback: no error e came with the gradient from above');
      this.error = null;
      return error;
    },
    down: (error, shape) => kickbackGradient(error, shape),
  };

  override receive(message: BackwardMessage, shape: number[]): tf.Tensor {
    this.error = message.error ?? null;
    return super.receive(message, shape);
  }

  override forget(): void {
    this.error = null;
  }
}

/** Kickback's last stage: the true gradient of the loss, sent down as in backprop with e beside it. */
export class KickbackTop extends FromLoss implements GradientSource {
  readonly kickback: KickbackLink = { error: (dy) => ownedValues(dy) };
}

/** β·1 in h's shape ([rows, ...shape]): β = e[:, 1], the two-class error (e1 = -e0), the same at every unit of a row. */
export function kickbackGradient(error: tf.Tensor2D, shape: number[]): tf.Tensor {
  if (error.shape[1] !== 2) throw new Error(`kickback needs two classes (one output), got an error of ${error.shape[1]}`);
  const rows = error.shape[0];
  return tf.tidy(() => tf.mul(tf.reshape(tf.slice(error, [0, 1], [rows, 1]), [rows, ...shape.map(() => 1)]), tf.ones([rows, ...shape])));
}
