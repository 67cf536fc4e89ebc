import * as tf from '@tensorflow/tfjs-core';

export interface LossResult {
  /** Mean cross-entropy over the batch (scalar). */
  loss: tf.Scalar;
  /** dLoss/dlogits, [rows, classes]. */
  gradient: tf.Tensor2D;
  /** Number of rows whose arg-max is the label (scalar). */
  correct: tf.Scalar;
}

/** Softmax cross-entropy on logits, its gradient and the count of correct predictions. */
export function softmaxCrossEntropy(logits: tf.Tensor2D, oneHot: tf.Tensor2D): LossResult {
  return tf.tidy(() => {
    const rows = logits.shape[0];
    const logProbs = tf.logSoftmax(logits);
    const loss = tf.div(tf.neg(tf.sum(tf.mul(logProbs, oneHot))), rows) as tf.Scalar;
    const gradient = tf.div(tf.sub(tf.exp(logProbs), oneHot), rows) as tf.Tensor2D;
    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(oneHot, 1)), 'float32')) as tf.Scalar;
    return { loss, gradient, correct };
  });
}

export function oneHot(labels: Uint8Array, classes: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), 'float32') as tf.Tensor2D);
}
