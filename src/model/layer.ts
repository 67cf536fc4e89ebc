import * as tf from '@tensorflow/tfjs-core';
import { ops } from '../runtime/ops.js';

/**
 * Tensors saved by a training-mode forward pass for the matching backward pass.
 * The trace owns its tensors (they are zero-copy aliases or fresh intermediates): dispose it with
 * `tf.dispose(trace)` once the backward pass is done (or abandoned). Disposing the trace never
 * disposes the forward output `y` nor the input `x`, and vice versa.
 */
export type Trace = tf.Tensor[];

// Forward/Backward are type aliases rather than interfaces so that they are assignable to
// tf.TensorContainer (interfaces have no implicit index signature), e.g. tf.tidy(() => layer.forward(x, true)).
export type Forward = {
  y: tf.Tensor;
  trace: Trace;
};

export type Backward = {
  /** dL/dx, or null when the input gradient was not requested. */
  dx: tf.Tensor | null;
  /** dL/dθ, in the order of `Layer.params`. */
  grads: tf.Tensor[];
};

/** The first part of a split backward pass (Layer.inputBackward): dx, and what the parameter gradients need. */
export type InputBackward = {
  dx: tf.Tensor;
  pending: tf.Tensor[];
};

/**
 * A layer with an explicit backward pass. Shapes are per example: a batch of inputs is
 * [batch, ...inputShape] (NHWC for images: inputShape = [height, width, channels]).
 * `inputUnits`/`outputUnits` are the flattened sizes (the product of the shapes).
 *
 * Layers whose input shape has more than one dimension (conv, pool, NHWC batch norm, flatten)
 * also accept their input flat, [batch, inputUnits] (e.g. activations that arrived as a flat
 * Float32Array), and their dy flat, [batch, outputUnits]; they reshape it (no copy).
 * Outputs and dx always have the layer's own shapes: y is [batch, ...outputShape], dx is
 * [batch, ...inputShape]. Dense and 1-D batch norm take exactly [batch, units].
 */
export interface Layer {
  /** e.g. 'dense(784->256)', 'batchnorm(256)', 'conv2d(5x5, 28x28x1->28x28x32)' */
  readonly name: string;
  /** Per-example input shape, e.g. [784] or [28, 28, 1]. */
  readonly inputShape: readonly number[];
  /** Per-example output shape, e.g. [256] or [14, 14, 32]. */
  readonly outputShape: readonly number[];
  /** Product of inputShape. */
  readonly inputUnits: number;
  /** Product of outputShape. */
  readonly outputUnits: number;
  /** Trainable variables, fixed order. */
  readonly params: tf.Variable[];
  /** Non-trainable variables (BN running mean/variance), fixed order. */
  readonly state: tf.Variable[];
  /**
   * training=false: no trace (empty array), batch norm uses running statistics. `condition`: the
   * one-hot label [batch, classes], for a layer conditioned on it (ConditionedConv2D needs it;
   * the others ignore it).
   */
  forward(x: tf.Tensor, training: boolean, condition?: tf.Tensor): Forward;
  /**
   * Does not dispose `trace` nor `dy`: the caller owns them. `feedback` (feedback alignment, dense
   * layers): a fixed matrix of the kernel's shape that carries the input gradient instead of the
   * kernel, dx = dz Bᵀ; layers without a kernel of that kind ignore it.
   */
  backward(trace: Trace, dy: tf.Tensor, needInputGrad: boolean, feedback?: tf.Tensor): Backward;
  /**
   * backward in two parts, for a layer whose parameter gradients cost enough to be worth putting
   * off (dense, conv): dx now, with what the parameter gradients need besides the trace
   * (`pending`, owned by the caller), then parameterGradients(trace, pending). The same values
   * as backward. Layers without it do all of backward at once (see Sequential.inputBackward).
   */
  inputBackward?(trace: Trace, dy: tf.Tensor, feedback?: tf.Tensor): InputBackward;
  /** The parameter gradients from inputBackward's `pending` (not disposed: the caller owns it). */
  parameterGradients?(trace: Trace, pending: tf.Tensor[]): tf.Tensor[];
  /** A layer that carries state across batches (an LSTM): an evaluation pass starts here. */
  startEvaluation?(): void;
  /** Frees what the layer holds besides its variables (Sequential.dispose calls it). */
  dispose?(): void;
}

/**
 * A new tensor handle on the same data (Reshape to the same shape: refcounted, no copy on cpu nor
 * wasm, unlike tf.clone which copies on wasm). Keeps the data alive even if `t` is disposed or,
 * for a variable, reassigned.
 */
/**
 * A layer's whole backward pass from its split parts: the parameter gradients of dz and, when
 * asked, dx. Disposes dz (dL/d(pre-activation), a tensor of the layer's own).
 */
export function wholeBackward(dz: tf.Tensor, parameterGradients: (dz: tf.Tensor) => tf.Tensor[], inputGradient: ((dz: tf.Tensor) => tf.Tensor) | null): Backward {
  try {
    const grads = parameterGradients(dz);
    return { dx: inputGradient ? tf.tidy(() => inputGradient(dz)) : null, grads };
  } finally {
    dz.dispose();
  }
}

/** The first part of a split backward pass: dx now, dz kept as `pending` for the parameter gradients (disposed if dx fails). */
export function firstBackward(dz: tf.Tensor, inputGradient: (dz: tf.Tensor) => tf.Tensor): InputBackward {
  try {
    return { dx: tf.tidy(() => inputGradient(dz)), pending: [dz] };
  } catch (err) {
    dz.dispose();
    throw err;
  }
}

export function alias<T extends tf.Tensor>(t: T): T {
  return tf.reshape(t, t.shape) as T;
}

/** scale · column sums of a [rows, cols] matrix as a [1, cols] matrix (the backend's own, src/runtime/ops.ts). */
export function columnSum(m: tf.Tensor2D, scale = 1): tf.Tensor2D {
  return ops().columnSum(m, scale);
}

/** mᵀ of a matrix (the backend's own, src/runtime/ops.ts). */
export function transpose2d(m: tf.Tensor2D): tf.Tensor2D {
  return ops().transpose2d(m);
}

/** Throws unless `t` is a rank-2 tensor with `units` columns (and `rows` rows when given). */
export function checkMatrix(t: tf.Tensor, units: number, what: string, rows?: number): asserts t is tf.Tensor2D {
  if (t.rank !== 2 || t.shape[1] !== units || (rows !== undefined && t.shape[0] !== rows)) {
    const want = `[${rows ?? 'batch'}, ${units}]`;
    throw new Error(`${what}: expected a tensor of shape ${want}, got [${t.shape.join(', ')}]`);
  }
}

export function checkUnits(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${n}`);
}

/** Number of elements of a per-example shape (1 for []). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** '28x28x1' */
export function formatShape(shape: readonly number[]): string {
  return shape.join('x');
}

/** Throws unless `shape` is a non-empty list of positive integers. */
export function checkShape(shape: readonly number[], what: string, rank?: number): void {
  if (
    !Array.isArray(shape) ||
    shape.length === 0 ||
    (rank !== undefined && shape.length !== rank) ||
    !shape.every((d) => Number.isInteger(d) && d >= 1)
  ) {
    const want = rank === 3 ? '[height, width, channels] of positive integers' : `a list${rank ? ` of ${rank}` : ''} of positive integers`;
    throw new Error(`${what} must be ${want}, got ${JSON.stringify(shape)}`);
  }
}

/**
 * Throws unless `t` is a batch of the per-example `shape`: [batch, ...shape] or flat
 * [batch, size(shape)] (with `rows` rows when given). For a 1-D shape this is checkMatrix.
 * Returns the batch size. Creates no tensor.
 */
export function checkBatchOf(t: tf.Tensor, shape: readonly number[], what: string, rows?: number): number {
  const units = shapeSize(shape);
  const natural = t.rank === shape.length + 1 && shape.every((d, i) => t.shape[i + 1] === d);
  const flat = t.rank === 2 && t.shape[1] === units;
  if ((!natural && !flat) || (rows !== undefined && t.shape[0] !== rows)) {
    const b = rows ?? 'batch';
    const want = shape.length === 1 ? `[${b}, ${units}]` : `[${b}, ${shape.join(', ')}] or [${b}, ${units}]`;
    throw new Error(`${what}: expected a tensor of shape ${want}, got [${t.shape.join(', ')}]`);
  }
  return t.shape[0];
}

/**
 * `t` as a [batch, ...shape] tensor: `t` itself when it has that shape, else (flat input) a
 * zero-copy reshape, which is a new handle: call inside tf.tidy. Throws as checkBatchOf.
 */
export function asBatchOf(t: tf.Tensor, shape: readonly number[], what: string, rows?: number): tf.Tensor {
  const batch = checkBatchOf(t, shape, what, rows);
  const natural = t.rank === shape.length + 1;
  return natural ? t : tf.reshape(t, [batch, ...shape]);
}
