import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Reads of tensors to the CPU. They are asynchronous: on webgpu a synchronous read (dataSync)
 * needs an OffscreenCanvas that Node does not have, and the wait for the GPU is better spent on
 * the event loop. On wasm and cpu the read itself is synchronous; the promise only adds a
 * microtask.
 */

/**
 * The time this thread waits for the reads a step needs (activations up, gradients down, the loss,
 * the finiteness checks): wall clock while at least one is pending, so that reads made together
 * count once. On a GPU it is the price of a message: the wait for the GPU's work and the copy.
 */
export class ReadClock {
  private pending = 0;
  private since = 0;
  /** Called with each stretch of waiting, in performance.now() milliseconds. */
  observer: ((t0: number, t1: number) => void) | null = null;

  async time<T>(read: () => Promise<T>): Promise<T> {
    if (this.pending++ === 0) this.since = performance.now();
    try {
      return await read();
    } finally {
      if (--this.pending === 0) this.observer?.(this.since, performance.now());
    }
  }
}

/** This thread's read clock (each stage thread has its own). */
export const readClock = new ReadClock();

/** The values of `t` in an array of its own, safe to transfer to another thread. */
export async function ownedValues(t: tf.Tensor): Promise<Float32Array> {
  const values = (await readClock.time(() => t.data())) as Float32Array;
  // wasm copies out of its memory; cpu hands out the tensor's own storage and webgpu caches what
  // it read on the tensor, which a transfer would empty under the tensor that still holds it
  return tf.getBackend() === 'wasm' ? values : values.slice();
}

/** The first value of each scalar tensor, read together. */
export async function readScalars(tensors: readonly tf.Tensor[]): Promise<number[]> {
  const values = await readClock.time(() => Promise.all(tensors.map((t) => t.data())));
  return values.map((v) => v[0]);
}

/** Copies of the values of the tensors (weights and checkpoints, between steps: not timed). */
export async function readAll(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  return Promise.all(tensors.map(async (t) => new Float32Array(await t.data())));
}
