import * as tf from '@tensorflow/tfjs-core';
import { matMul } from './mat-mul.js';
import { readScalars } from './read.js';

/**
 * The operations model and stage code call where a backend may have a faster way than tfjs's own
 * ops (./ops.ts picks the active backend's implementation).
 */
export interface BackendOps {
  /** scale · column sums of a float32 [rows, cols] matrix, as [1, cols]. */
  columnSum(m: tf.Tensor2D, scale: number): tf.Tensor2D;
  /** mᵀ of a matrix. */
  transpose2d(m: tf.Tensor2D): tf.Tensor2D;
  /**
   * True where matMul(a, b) packs b anew for every new tensor (the wasm backend's XNNPACK), so
   * that with a fresh large b, (bᵀ aᵀ)ᵀ can cost less (see model/dense.ts packsLess).
   */
  packsSecondOperand?: boolean;
  /** [a b] for matrices of the same number of rows. */
  concatColumns(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D;
  /**
   * A helper net's regression: dy = scale·(y - k·target) and the sums
   * [Σ (y - k·target)², Σ used·target, Σ used², Σ target²]; the three inputs have one shape.
   */
  regression(y: tf.Tensor, target: tf.Tensor, used: tf.Tensor, k: number, scale: number): { dy: tf.Tensor; stats: tf.Tensor1D };
  /**
   * BatchNorm in training mode on a [rows, n] matrix (rows: examples or positions; n: units or
   * channels): mean and biased variance per column, xhat = (x - mean)/√(var + eps),
   * y = xhat·gamma + beta (ReLU'd when `relu`), and scale = gamma/√(var + eps), all [1, n] but y, xhat.
   */
  batchNormForward(m: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, relu: boolean): BatchNormForward;
  /**
   * BatchNorm's backward pass from the forward's xhat, scale and (relu) output y: dbeta = Σ dz,
   * dgamma = Σ dz·xhat ([n]) with dz = dy where y > 0 (all of dy without relu), and (needDx) dx.
   */
  batchNormBackward(dy: tf.Tensor2D, xhat: tf.Tensor2D, y: tf.Tensor2D | null, scale: tf.Tensor2D, needDx: boolean): BatchNormBackward;
  /**
   * Max pooling's input gradient, where the backend has a kernel for it (absent, or null for
   * tensors it does not take: the layer builds it from tfjs ops): each window's dy to its first
   * maximum in row-major order. x: the input [b, h, w, c]; y, dy: [b, ho, wo, c]; windows p x p,
   * stride s, the padding before.
   */
  maxPoolBackward?(x: tf.Tensor4D, y: tf.Tensor4D, dy: tf.Tensor4D, p: number, s: number, top: number, left: number): tf.Tensor4D | null;
  /**
   * A conv layer's windows as the columns of a [k·k·c, b·ho·wo] matrix (see kernels.wat im2col_t),
   * where the backend has a kernel for it (absent, or null for tensors it does not take);
   * `examples` [first, count] takes those examples of the batch only (columns count·ho·wo).
   */
  im2colT?(x: tf.Tensor4D, k: number, s: number, top: number, left: number, ho: number, wo: number, examples?: readonly [number, number]): tf.Tensor2D | null;
  /**
   * A conv layer's filter gradient [k, k, c, f] summed directly from x [b, h, w, c] and dz
   * [b, ho, wo, f] (see kernels.wat filter_gradient), where the backend has a kernel for it (absent,
   * or null for tensors it does not take, or f not a multiple of 4).
   */
  filterGradient?(x: tf.Tensor4D, dz: tf.Tensor4D, k: number, s: number, top: number, left: number): tf.Tensor4D | null;
  /** Adam's element-wise update of the parameter p and its moments m and v with the gradient g. */
  adamUpdate(p: tf.Variable, m: tf.Variable, v: tf.Variable, g: tf.Tensor, h: AdamHyper): void;
  /** Whether every value of the tensors is finite (no NaN, no ±Inf); read asynchronously where the backend needs it. */
  allFinite(tensors: readonly tf.Tensor[]): Promise<boolean>;
  /** Whether every value of `t` is finite, where its data was also read into `values` (to be sent). */
  finiteData(t: tf.Tensor, values: ArrayLike<number>): boolean;
}

export interface BatchNormForward {
  y: tf.Tensor2D;
  xhat: tf.Tensor2D;
  mean: tf.Tensor2D;
  variance: tf.Tensor2D;
  scale: tf.Tensor2D;
}

export interface BatchNormBackward {
  dgamma: tf.Tensor1D;
  dbeta: tf.Tensor1D;
  dx: tf.Tensor2D | null;
}

/** b1, b2; c1 = 1 - b1, c2 = 1 - b2; lr the signed, bias-corrected step; eps the bias-corrected epsilon. */
export interface AdamHyper {
  b1: number;
  b2: number;
  c1: number;
  c2: number;
  lr: number;
  eps: number;
}

/** Index of the first NaN or ±Inf in `values`, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** tfjs ops: what every backend without an implementation of its own runs. */
export const portableOps: BackendOps = {
  // ones[1, rows] @ m: about 10x faster than tf.sum(m, 0), which transposes internally; m through
  // matMul, since its data may have been a product's second operand in another shape (mat-mul.ts)
  columnSum: (m, scale) => matMul(tf.fill([1, m.shape[0]], scale) as tf.Tensor2D, m),
  transpose2d: (m) => tf.transpose(m),
  concatColumns: (a, b) => tf.concat([a, b], 1),
  regression(y, target, used, k, scale) {
    const diff = tf.sub(y, tf.mul(target, k));
    const dot = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(a, b));
    return { dy: tf.mul(diff, scale), stats: tf.stack([dot(diff, diff), dot(used, target), dot(used, used), dot(target, target)]) as tf.Tensor1D };
  },
  batchNormForward(m, gamma, beta, eps, relu) {
    const rows = m.shape[0];
    // column sums as a matMul (./layer.ts columnSum would come back here through ops())
    const mean = portableOps.columnSum(m, 1 / rows);
    const centered = tf.sub(m, mean);
    const variance = portableOps.columnSum(tf.square(centered) as tf.Tensor2D, 1 / rows);
    const invStd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(centered, invStd) as tf.Tensor2D;
    const z = tf.add(tf.mul(xhat, gamma), beta) as tf.Tensor2D;
    return { y: relu ? tf.relu(z) : z, xhat, mean, variance, scale: tf.mul(invStd, gamma) as tf.Tensor2D };
  },
  batchNormBackward(dy, xhat, y, scale, needDx) {
    const rows = dy.shape[0];
    const n = dy.shape[1];
    const dz = y ? (tf.mul(dy, tf.step(y)) as tf.Tensor2D) : dy;
    const dbeta = portableOps.columnSum(dz, 1);
    const dgamma = portableOps.columnSum(tf.mul(dz, xhat) as tf.Tensor2D, 1);
    let dx: tf.Tensor2D | null = null;
    if (needDx) {
      // dx = (gamma * invStd / N) * (N * dz - sum(dz) - xhat * sum(dz * xhat))
      const meanTerm = tf.mul(scale, tf.mul(dbeta, 1 / rows));
      const xhatTerm = tf.mul(scale, tf.mul(dgamma, 1 / rows));
      dx = tf.sub(tf.sub(tf.mul(dz, scale), meanTerm), tf.mul(xhat, xhatTerm)) as tf.Tensor2D;
    }
    return { dgamma: tf.reshape(dgamma, [n]) as tf.Tensor1D, dbeta: tf.reshape(dbeta, [n]) as tf.Tensor1D, dx };
  },
  adamUpdate(p, m, v, g, h) {
    tf.tidy(() => {
      const grad = g.shape.length === p.shape.length ? g : tf.reshape(g, p.shape);
      const m1 = tf.add(tf.mul(m, h.b1), tf.mul(grad, h.c1));
      const v1 = tf.add(tf.mul(v, h.b2), tf.mul(tf.square(grad), h.c2));
      m.assign(m1);
      v.assign(v1);
      p.assign(tf.add(tf.div(tf.mul(m1, h.lr), tf.add(tf.sqrt(v1), h.eps)), p));
    });
  },
  async allFinite(tensors) {
    if (tensors.length === 0) return true;
    // one flag for all the tensors, one read
    const flag = tf.tidy(() => tf.all(tf.stack(tensors.map((t) => tf.all(tf.isFinite(t))))));
    const [all] = await readScalars([flag]);
    flag.dispose();
    return all === 1;
  },
  finiteData: (_t, values) => firstNonFinite(values) < 0,
};
