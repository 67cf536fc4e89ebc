import * as tf from '@tensorflow/tfjs-core';
import { matMul, secondOperand } from '../runtime/mat-mul.js';
import { ops } from '../runtime/ops.js';
import { alias, checkMatrix, checkUnits, columnSum, firstBackward, transpose2d, wholeBackward, type Backward, type Forward, type InputBackward, type Layer, type Trace } from './layer.js';

/** The nonlinearities a hidden layer can take: ReLU, leaky ReLU (slope LEAKY_RELU_SLOPE below zero), tanh. */
export const HIDDEN_ACTIVATIONS = ['relu', 'leaky-relu', 'tanh'] as const;

export type HiddenActivation = (typeof HIDDEN_ACTIVATIONS)[number];

/** The nonlinearity after x W + b: a hidden one, or none. */
export type DenseActivation = HiddenActivation | 'linear';

export const DENSE_ACTIVATIONS: readonly DenseActivation[] = [...HIDDEN_ACTIVATIONS, 'linear'];

/** Leaky ReLU's slope below zero (PyTorch's default). */
export const LEAKY_RELU_SLOPE = 0.01;

export interface DenseOptions {
  inputUnits: number;
  units: number;
  useBias: boolean;
  activation: DenseActivation;
  /** Initial kernel, row-major [inputUnits, units] (copied), or 'zeros'. The bias starts at zero. */
  init: Float32Array | 'zeros';
  name?: string;
}

/**
 * Whether a product of a batch of `batch` rows with a fresh [n, units] matrix (a kernel changed by
 * the last update) is cheaper with the batch as the operand the backend packs. The wasm backend
 * (XNNPACK) packs its second operand anew for every new tensor, so x W packs W, in·out values,
 * and (Wᵀ xᵀ)ᵀ packs xᵀ, in·batch values, at the price of three transposes. Measured on wasm
 * (batch 128, W cloned each time, median of 21): the synthesizer's 1578->1568 forward 30.6 ->
 * 25.0 ms and dz Wᵀ 33.6 -> 20.8 ms; 784->256 2.16 -> 2.05 and 2.30 -> 1.78 ms; 256->256 0.70 ->
 * 0.67 and 0.72 -> 0.62 ms; a 10-unit output lost (0.05 -> 0.16 ms), hence the lower bound on units.
 */
function packsLess(batch: number, units: number): boolean {
  return units >= 32 && batch < units && ops().packsSecondOperand === true;
}

/**
 * y = act(x W + b), W: [in, out]. Takes x of shape [batch, in] (flatten images first). Forward is one fused matMul (bias and
 * ReLU or leaky ReLU fused; tanh after it), or in training, where it packs less, (Wᵀ xᵀ)ᵀ with the bias and activation after it.
 * Trace (training): [x, W, y] with an activation, [x, W] for linear — zero-copy aliases. W is the kernel as it
 * was at forward time, so dx is exact even if the optimizer updated W before the backward pass.
 */
export class Dense implements Layer {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly inputUnits: number;
  readonly outputUnits: number;
  readonly useBias: boolean;
  readonly activation: DenseActivation;
  readonly kernel: tf.Variable<tf.Rank.R2>;
  readonly bias: tf.Variable<tf.Rank.R1> | null;
  readonly params: tf.Variable[];
  readonly state: tf.Variable[] = [];

  constructor(opts: DenseOptions) {
    checkUnits(opts.inputUnits, 'Dense inputUnits');
    checkUnits(opts.units, 'Dense units');
    if (!DENSE_ACTIVATIONS.includes(opts.activation)) {
      throw new Error(`Dense: unknown activation '${String(opts.activation)}'`);
    }
    const shape: [number, number] = [opts.inputUnits, opts.units];
    if (opts.init !== 'zeros' && opts.init.length !== shape[0] * shape[1]) {
      throw new Error(`Dense: init has ${opts.init.length} values, expected ${shape[0] * shape[1]}`);
    }
    this.name = opts.name ?? `dense(${opts.inputUnits}->${opts.units})`;
    this.inputUnits = opts.inputUnits;
    this.outputUnits = opts.units;
    this.inputShape = [opts.inputUnits];
    this.outputShape = [opts.units];
    this.useBias = opts.useBias;
    this.activation = opts.activation;
    const init = opts.init;
    this.kernel = tf.tidy(() =>
      tf.variable(init === 'zeros' ? tf.zeros(shape) : tf.tensor2d(init.slice(), shape), true),
    );
    this.bias = opts.useBias ? tf.tidy(() => tf.variable(tf.zeros([opts.units]) as tf.Tensor1D, true)) : null;
    this.params = this.bias ? [this.kernel, this.bias] : [this.kernel];
  }

  forward(x: tf.Tensor, training: boolean): Forward {
    checkMatrix(x, this.inputUnits, `${this.name} forward x`);
    const out = tf.tidy(() => {
      const y = training && packsLess(x.shape[0], this.outputUnits) ? this.forwardTransposed(x as tf.Tensor2D) : this.forwardFused(x as tf.Tensor2D);
      if (!training) return [y];
      return this.activation === 'linear' ? [y, alias(x), alias(this.kernel)] : [y, alias(x), alias(this.kernel), alias(y)];
    });
    return { y: out[0], trace: out.slice(1) };
  }

  /** act(x W + b) in one fused matMul (tanh after it: the fused kernels have none). */
  private forwardFused(x: tf.Tensor2D): tf.Tensor2D {
    const fused = this.activation === 'relu' ? 'relu' : this.activation === 'leaky-relu' ? 'leakyrelu' : 'linear';
    const y = tf.fused.matMul({ a: x, b: secondOperand(this.kernel), bias: this.bias ?? undefined, activation: fused, leakyreluAlpha: LEAKY_RELU_SLOPE }) as tf.Tensor2D;
    return this.activation === 'tanh' ? tf.tanh(y) : y;
  }

  /** act((Wᵀ xᵀ)ᵀ + b): x W with the batch as the operand the backend packs (see packsLess). */
  private forwardTransposed(x: tf.Tensor2D): tf.Tensor2D {
    const z = transpose2d(matMul(transpose2d(this.kernel), transpose2d(x)));
    const biased = this.bias ? tf.add<tf.Tensor2D>(z, this.bias) : z;
    switch (this.activation) {
      case 'relu':
        return tf.relu(biased);
      case 'leaky-relu':
        return tf.leakyRelu(biased, LEAKY_RELU_SLOPE);
      case 'tanh':
        return tf.tanh(biased);
      case 'linear':
        return biased;
    }
  }

  /** `feedback` [in, out] (feedback alignment): dx = dz Bᵀ instead of dz Wᵀ. */
  backward(trace: Trace, dy: tf.Tensor, needInputGrad: boolean, feedback?: tf.Tensor): Backward {
    return wholeBackward(
      this.outputGradient(trace, dy),
      (dz) => this.parameterGradients(trace, [dz]),
      needInputGrad ? (dz) => this.inputGradient(trace, dz, feedback) : null,
    );
  }

  inputBackward(trace: Trace, dy: tf.Tensor, feedback?: tf.Tensor): InputBackward {
    return firstBackward(this.outputGradient(trace, dy), (dz) => this.inputGradient(trace, dz, feedback));
  }

  /** What forward(x, true) keeps for a linear layer ([x, W]), without computing y. */
  linearTrace(x: tf.Tensor): Trace {
    if (this.activation !== 'linear') throw new Error(`${this.name}: linearTrace is for a linear layer`);
    return [x, this.kernel];
  }

  /** [dW, db] from pending [dz]. */
  parameterGradients(trace: Trace, [dz]: tf.Tensor[]): tf.Tensor[] {
    const x = trace[0] as tf.Tensor2D;
    return tf.tidy(() => {
      // no transpose flags: they are ~15x slower on wasm than an explicit transpose
      const res: tf.Tensor[] = [matMul(transpose2d(x), dz as tf.Tensor2D)];
      if (this.useBias) res.push(tf.reshape(columnSum(dz as tf.Tensor2D), [this.outputUnits]));
      return res;
    });
  }

  /** dz = dL/d(pre-activation) = dy · act'(z), act' read off y; a tensor of its own (the caller disposes it). */
  private outputGradient(trace: Trace, dy: tf.Tensor): tf.Tensor2D {
    const linear = this.activation === 'linear';
    if (trace.length !== (linear ? 2 : 3)) {
      throw new Error(`${this.name}: backward needs the trace of a training-mode forward (got ${trace.length} tensors)`);
    }
    checkMatrix(dy, this.outputUnits, `${this.name} backward dy`, trace[0].shape[0]);
    return tf.tidy(() => {
      const y = trace[2];
      switch (this.activation) {
        case 'relu':
          return tf.mul(dy, tf.step(y));
        case 'leaky-relu':
          return tf.where(tf.greater(y, 0), dy, tf.mul(dy, LEAKY_RELU_SLOPE));
        case 'tanh':
          return tf.mul(dy, tf.sub(1, tf.square(y)));
        case 'linear':
          return alias(dy);
      }
    }) as tf.Tensor2D;
  }

  /** dx = dz Bᵀ (B: the feedback matrix, or the kernel at forward time), or (B dzᵀ)ᵀ where that packs less. */
  private inputGradient(trace: Trace, dz: tf.Tensor, feedback?: tf.Tensor): tf.Tensor2D {
    const back = (feedback ?? trace[1]) as tf.Tensor2D;
    const rows = trace[0].shape[0];
    return packsLess(rows, this.inputUnits) ? transpose2d(matMul(back, transpose2d(dz as tf.Tensor2D))) : matMul(dz as tf.Tensor2D, transpose2d(back));
  }
}
