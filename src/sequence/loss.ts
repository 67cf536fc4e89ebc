import * as tf from '@tensorflow/tfjs-core';
import type { OutputKind } from './task.js';

/**
 * The readout's loss on a window, per step and stream, and its gradient. 'bits': sigmoid
 * cross-entropy summed over the channels; 'classes': softmax cross-entropy. The window's loss is the
 * sum over steps, mean over the B streams, of the scored steps: dlogits = (p - y)·mask / B.
 * Returns [stepLoss [T·B] in nats (zero where unscored), dlogits [T·B, outputs]].
 */
export function windowLoss(kind: OutputKind, logits: tf.Tensor2D, y: tf.Tensor2D, mask: tf.Tensor1D, batch: number): [tf.Tensor1D, tf.Tensor2D] {
  return tf.tidy(() => {
    const m = tf.reshape(mask, [-1, 1]);
    if (kind === 'bits') {
      // log(1 + e^l) - y·l, written stably: max(l, 0) - y·l + log(1 + e^-|l|)
      const ce = tf.add(tf.sub(tf.relu(logits), tf.mul(y, logits)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
      const stepLoss = tf.mul(tf.sum(ce, 1), mask) as tf.Tensor1D;
      return [stepLoss, tf.mul(tf.sub(tf.sigmoid(logits), y), tf.div(m, batch)) as tf.Tensor2D];
    }
    const logp = tf.logSoftmax(logits);
    const stepLoss = tf.mul(tf.neg(tf.sum(tf.mul(y, logp), 1)), mask) as tf.Tensor1D;
    return [stepLoss, tf.mul(tf.sub(tf.exp(logp), y), tf.div(m, batch)) as tf.Tensor2D];
  });
}
