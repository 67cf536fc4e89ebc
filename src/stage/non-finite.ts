import * as tf from '@tensorflow/tfjs-core';
import { ops } from '../runtime/ops.js';

/** A NaN or Inf, caught at the stage where it first appeared. A restart would only repeat it. */
export class NonFiniteError extends Error {
  constructor(
    readonly stage: number,
    readonly step: number,
    readonly what: string,
  ) {
    super(`non-finite value (NaN or Inf) in stage ${stage}'s ${what} at step ${step}`);
    this.name = 'NonFiniteError';
  }
}

export { firstNonFinite } from '../runtime/portable-ops.js';

/**
 * Whether every value of `t` is finite, where its data was also read into `values` (to be sent):
 * one SIMD pass over the tensor on wasm, else a scan of `values`.
 */
export function finiteData(t: tf.Tensor, values: ArrayLike<number>): boolean {
  return ops().finiteData(t, values);
}

/** Whether every value of the tensors is finite: on wasm one SIMD pass over each, elsewhere tfjs ops. */
export function allFinite(tensors: readonly tf.Tensor[]): Promise<boolean> {
  return ops().allFinite(tensors);
}
