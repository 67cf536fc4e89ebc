import * as tf from '@tensorflow/tfjs-core';
import { ops, type AdamHyper } from '../runtime/ops.js';
import { readAll } from '../runtime/read.js';

export interface AdamOptions {
  learningRate: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-7 (as tf.train.adam on cpu/wasm). */
  epsilon?: number;
}

/**
 * Adam with the math of tf.train.adam:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   theta -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 * computed as theta -= lr_t * m / (sqrt(v) + eps_t) with lr_t = lr sqrt(1-b2^t) / (1-b1^t) and
 * eps_t = eps sqrt(1-b2^t) (identical algebraically, two fewer full-size ops per parameter).
 * b1^t, b2^t follow tfjs's float32 accumulation exactly. Moments are created up front.
 *
 * The element-wise update is the backend's own (src/runtime/ops.ts): on wasm one SIMD loop over
 * the data in the backend's memory (the eleven element-wise tfjs ops it replaces each allocate and
 * walk a full-size tensor), elsewhere tfjs ops. Both compute in float32, op by op, in the same order.
 */
export class Adam {
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private readonly params: tf.Variable[];
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private iterationCount = 0;
  /** beta^t in float32, as tfjs accumulates it (starts at beta, i.e. t = 1 for the first step). */
  private accBeta1: number;
  private accBeta2: number;
  private disposed = false;

  constructor(params: tf.Variable[], opts: AdamOptions) {
    this.params = [...params];
    this.learningRate = opts.learningRate;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-7;
    this.accBeta1 = Math.fround(this.beta1);
    this.accBeta2 = Math.fround(this.beta2);
    const zeros = (p: tf.Variable) => tf.tidy(() => tf.variable(tf.zerosLike(p), false));
    this.m = this.params.map(zeros);
    this.v = this.params.map(zeros);
  }

  /** Number of steps taken. */
  get iterations(): number {
    return this.iterationCount;
  }

  /** One update with grads in the order of params. The caller keeps ownership of grads. */
  step(grads: tf.Tensor[]): void {
    if (this.disposed) throw new Error('Adam: step after dispose');
    if (grads.length !== this.params.length) {
      throw new Error(`Adam: got ${grads.length} gradients for ${this.params.length} parameters`);
    }
    grads.forEach((g, i) => {
      if (g.size !== this.params[i].size) {
        throw new Error(`Adam: gradient ${i} has shape [${g.shape.join(', ')}], parameter has [${this.params[i].shape.join(', ')}]`);
      }
    });
    const b1 = this.beta1;
    const b2 = this.beta2;
    const oneMinusAcc1 = Math.fround(1 - this.accBeta1);
    const oneMinusAcc2 = Math.fround(1 - this.accBeta2);
    const sqrtOneMinusAcc2 = Math.sqrt(oneMinusAcc2);
    const negLrT = (-this.learningRate * sqrtOneMinusAcc2) / oneMinusAcc1;
    const epsT = this.epsilon * sqrtOneMinusAcc2;
    const hyper: AdamHyper = { b1, b2, c1: 1 - b1, c2: 1 - b2, lr: negLrT, eps: epsT };
    const backendOps = ops();
    this.params.forEach((p, i) => backendOps.adamUpdate(p, this.m[i], this.v[i], grads[i], hyper));
    this.accBeta1 = Math.fround(this.accBeta1 * Math.fround(b1));
    this.accBeta2 = Math.fround(this.accBeta2 * Math.fround(b2));
    this.iterationCount += 1;
  }

  /** [Float32Array [iterations, beta1^(t+1), beta2^(t+1)], ...m, ...v] (copies). */
  async getState(): Promise<Float32Array[]> {
    const header = Float32Array.of(this.iterationCount, this.accBeta1, this.accBeta2);
    return [header, ...(await readAll([...this.m, ...this.v]))];
  }

  /** Restores a state from getState() of an Adam over parameters of the same shapes. */
  setState(state: Float32Array[]): void {
    const n = this.params.length;
    if (state.length !== 1 + 2 * n || state[0].length !== 3) {
      throw new Error(`Adam.setState: expected ${1 + 2 * n} arrays (header of 3 values, then m and v)`);
    }
    const moments = [...this.m, ...this.v];
    moments.forEach((t, i) => {
      if (state[i + 1].length !== t.size) {
        throw new Error(`Adam.setState: array ${i + 1} has ${state[i + 1].length} values, expected ${t.size}`);
      }
    });
    tf.tidy(() => moments.forEach((t, i) => t.assign(tf.tensor(state[i + 1].slice(), t.shape, 'float32'))));
    this.iterationCount = state[0][0];
    this.accBeta1 = state[0][1];
    this.accBeta2 = state[0][2];
  }

  /** Disposes the moment variables (not the parameters). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.m, ...this.v]);
  }
}
