import * as tf from '@tensorflow/tfjs-core';
import { wasmAllFinite } from '../runtime/wasm-kernels.js';

const WHAT = 'non-finite value (NaN or Inf)';

/** A NaN or Inf, caught at the stage where it first appeared. A restart would only repeat it. */
export class NonFiniteError extends Error {
  constructor(
    readonly stage: number,
    readonly step: number,
    readonly what: string,
  ) {
    super(`${WHAT} in stage ${stage}'s ${what} at step ${step}`);
    this.name = 'NonFiniteError';
  }
}

/**
 * Whether an error message (as it crossed a thread or process boundary, where only the text
 * survives) comes from a NonFiniteError.
 */
export function isNonFiniteMessage(message: string): boolean {
  return message.includes(WHAT);
}

/** Index of the first NaN or ±Inf in `values`, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/**
 * Whether every value of `t` is finite, where its data was also read into `values` (to be sent):
 * one SIMD pass over the tensor on wasm, else a scan of `values`.
 */
export function finiteData(t: tf.Tensor, values: ArrayLike<number>): boolean {
  return wasmAllFinite([t]) ?? firstNonFinite(values) < 0;
}

/** Whether every value of the tensors is finite: on wasm one SIMD pass over each, elsewhere tfjs ops. */
export function allFinite(tensors: readonly tf.Tensor[]): boolean {
  return wasmAllFinite(tensors) ?? tf.tidy(() => tensors.every((t) => tf.all(tf.isFinite(t)).dataSync()[0] === 1));
}
