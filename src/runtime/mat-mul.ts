import * as tf from '@tensorflow/tfjs-core';

/**
 * The shape each data was first packed in as a matMul's second operand on wasm. tfjs-wasm (4.22)
 * keeps XNNPACK's packing of that operand by the data alone, not by its shape: the same data
 * passed again in another shape (another reshape of the tensor) is multiplied with the first
 * packing, which gives wrong values and can write past the output (see docs/backends.md).
 */
const packedAs = new WeakMap<object, string>();

/**
 * `b`, or on wasm a copy of it when its data was a second operand in another shape before, so
 * that every data reaches the backend's matMul in one shape only.
 */
export function secondOperand<T extends tf.Tensor>(b: T): T {
  if (tf.getBackend() !== 'wasm') return b;
  const shape = b.shape.join('x');
  const before = packedAs.get(b.dataId);
  if (before === undefined) {
    packedAs.set(b.dataId, shape);
    return b;
  }
  if (before === shape) return b;
  const copy = tf.clone(b);
  packedAs.set(copy.dataId, shape);
  return copy;
}

/** tf.matMul(a, b), with b's data in one shape only (secondOperand). */
export function matMul<T extends tf.Tensor>(a: T, b: T): T {
  return tf.matMul(a, secondOperand(b));
}
