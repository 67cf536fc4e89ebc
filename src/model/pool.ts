import * as tf from '@tensorflow/tfjs-core';
import { ops } from '../runtime/ops.js';
import { alias, asBatchOf, checkBatchOf, formatShape, shapeSize, type Backward, type Forward, type Layer, type Trace } from './layer.js';
import {
  LOWEST_FLOAT32,
  axisPadding,
  frame,
  pool2dOutputShape,
  scatterWindows,
  windowValues,
  type AxisPadding,
  type Padding,
} from './spatial.js';

export interface Pool2DOptions {
  /** Per-example input shape [height, width, channels] (NHWC). */
  inputShape: readonly number[];
  /** Square windows: poolSize x poolSize. */
  poolSize: number;
  /** Default poolSize (non-overlapping windows). */
  stride?: number;
  /** Default 'valid' (Keras). */
  padding?: Padding;
  name?: string;
}

/** Shared shape bookkeeping of MaxPool2D and AvgPool2D (no parameters). */
abstract class Pool2D implements Layer {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly inputUnits: number;
  readonly outputUnits: number;
  readonly poolSize: number;
  readonly stride: number;
  readonly padding: Padding;
  readonly params: tf.Variable[] = [];
  readonly state: tf.Variable[] = [];
  protected readonly padH: AxisPadding;
  protected readonly padW: AxisPadding;

  constructor(kind: string, opts: Pool2DOptions) {
    const p = opts.poolSize;
    const stride = opts.stride ?? p;
    const padding = opts.padding ?? 'valid';
    this.outputShape = pool2dOutputShape(opts.inputShape, p, stride, padding);
    this.inputShape = [...opts.inputShape];
    this.inputUnits = shapeSize(this.inputShape);
    this.outputUnits = shapeSize(this.outputShape);
    this.poolSize = p;
    this.stride = stride;
    this.padding = padding;
    this.padH = axisPadding(this.inputShape[0], p, stride, padding);
    this.padW = axisPadding(this.inputShape[1], p, stride, padding);
    const strideText = stride === p ? '' : `/${stride}`;
    const padText = padding === 'valid' ? '' : ' same';
    this.name = opts.name ?? `${kind}(${p}x${p}${strideText}${padText}, ${formatShape(this.inputShape)}->${formatShape(this.outputShape)})`;
  }

  abstract forward(x: tf.Tensor, training: boolean): Forward;
  abstract backward(trace: Trace, dy: tf.Tensor, needInputGrad: boolean): Backward;

  protected checkTrace(trace: Trace, length: number): void {
    if (trace.length !== length) {
      throw new Error(`${this.name}: backward needs the trace of a training-mode forward (got ${trace.length} tensors)`);
    }
  }
}

/**
 * Max pooling. Backward without the MaxPoolGrad kernel: tfjs-backend-wasm 4.22 has one (and
 * MaxPoolWithArgmax), but they give wrong gradients (a tie goes to the last maximum; in a window
 * whose values are all <= 0 the gradient lands on the wrong position or nowhere, as if the search
 * started from 0 at index 0). Like TensorFlow, each window's gradient goes to its first maximum
 * in row-major order (ties are common: zeros after a ReLU). Only ops that are fast on wasm
 * (elementwise, maxPool, depthwise conv, pad, transpose-free reshapes); no slices, gathers or
 * comparisons, which run in JavaScript or scalar code there. Assumes finite inputs.
 *  - Non-overlapping windows that tile the (padded) input: viewed as [b, ho, p, wo, p, c] (a
 *    reshape), isMax = 1 - step(y - x) is 1 at the maxima; score = isMax * w with distinct weights w
 *    (p*p at the window's first position down to 1 at its last); a maxPool of score finds the first
 *    maximum's weight, and relu(score - best + 1) is its one-hot mask, times dy.
 *  - Otherwise (overlapping windows, gaps, leftover rows): for each window offset (i, j) in
 *    row-major order, the input under it (a depthwise conv with a one-hot kernel), the maxima no
 *    earlier offset took, times dy, placed back with scatterWindows.
 * 'same' padding pads with the lowest float32, never a maximum. A backend with a kernel of its own
 * for this gradient (ops().maxPoolBackward: wasm) runs that instead.
 * Trace (training): [x, y] as zero-copy aliases.
 */
export class MaxPool2D extends Pool2D {
  constructor(opts: Pool2DOptions) {
    super('maxpool', opts);
  }

  forward(x: tf.Tensor, training: boolean): Forward {
    checkBatchOf(x, this.inputShape, `${this.name} forward x`);
    const out = tf.tidy(() => {
      const x4 = asBatchOf(x, this.inputShape, `${this.name} forward x`) as tf.Tensor4D;
      const y = tf.maxPool(x4, this.poolSize, this.stride, this.padding);
      return training ? [y, alias(x4), alias(y)] : [y];
    });
    return { y: out[0], trace: out.slice(1) };
  }

  backward(trace: Trace, dy: tf.Tensor, needInputGrad: boolean): Backward {
    this.checkTrace(trace, 2);
    const [x, y] = trace as [tf.Tensor4D, tf.Tensor4D];
    checkBatchOf(dy, this.outputShape, `${this.name} backward dy`, x.shape[0]);
    if (!needInputGrad) return { dx: null, grads: [] };
    const dx = tf.tidy(() => {
      const dy4 = asBatchOf(dy, this.outputShape, `${this.name} backward dy`);
      const own = ops().maxPoolBackward?.(x, y, dy4 as tf.Tensor4D, this.poolSize, this.stride, this.padH.before, this.padW.before);
      if (own) return own;
      const p = this.poolSize;
      const s = this.stride;
      const [ho, wo, c] = this.outputShape;
      const [h, w] = this.inputShape;
      const b = x.shape[0];
      const { padH, padW } = this;
      // the padded input: exactly what the windows read, or (valid, stride > pool) a little more
      const xp = frame(x, -padH.before, -padW.before, h + padH.before + padH.after, w + padW.before + padW.after, {
        value: LOWEST_FLOAT32,
      });
      let canvas: tf.Tensor;
      if (p === s && xp.shape[1] === ho * p && xp.shape[2] === wo * p) {
        const padded: [number, number, number, number] = [b, ho * p, wo * p, c];
        const windows = [b, ho, p, wo, p, c];
        const perWindow = [b, ho, 1, wo, 1, c];
        const weights = tf.tensor(Float32Array.from({ length: p * p }, (_, k) => p * p - k), [1, 1, p, 1, p, 1]);
        // y - x is 0 at the window's maxima, > 0 elsewhere
        const isMax = tf.sub(1, tf.step(tf.sub(tf.reshape(y, perWindow), tf.reshape(xp, windows))));
        const score = tf.mul(isMax, weights);
        const best = tf.maxPool(tf.reshape(score, padded) as tf.Tensor4D, p, p, 'valid'); // the first maximum's weight
        const first = tf.relu(tf.add(tf.sub(score, tf.reshape(best, perWindow)), 1)); // integers: exactly 0 or 1
        canvas = tf.reshape(tf.mul(first, tf.reshape(dy4, perWindow)), padded);
      } else {
        const tiles: tf.Tensor[][] = [];
        let free: tf.Tensor | null = null; // 1 where no earlier offset took the window's gradient
        for (let i = 0; i < p; i++) {
          const row: tf.Tensor[] = [];
          for (let j = 0; j < p; j++) {
            const isMax = tf.sub(1, tf.step(tf.sub(y, windowValues(xp, i, j, p, s))));
            const mask: tf.Tensor = free ? tf.mul(isMax, free) : isMax;
            if (i < p - 1 || j < p - 1) free = free ? tf.sub(free, mask) : tf.sub(1, mask);
            row.push(tf.mul(mask, dy4));
          }
          tiles.push(row);
        }
        canvas = scatterWindows((i, j) => tiles[i][j], p, s, ho, wo);
      }
      return frame(canvas, padH.before, padW.before, h, w, { fastCrop: true });
    });
    return { dx, grads: [] };
  }
}

/**
 * Average pooling; with 'same' padding the average is over the window's positions inside the
 * input (as tf.avgPool). Backward: each window's dy / count spread over its positions; for
 * non-overlapping windows (stride = poolSize) one broadcast, otherwise scatterWindows (the
 * AvgPoolGrad kernel is ~2x slower on wasm). The count excludes padding, so border windows of
 * 'same' pooling get their true gradient (tfjs's own gradient of tf.avgPool divides by
 * poolSize^2 there too).
 * Trace: empty (the gradient depends only on dy), so backward also works after an eval forward.
 */
export class AvgPool2D extends Pool2D {
  /** poolSize^2 / (positions of each window inside the input), [outH * outW]; null when all 1. */
  private readonly borderScale: Float32Array | null;

  constructor(opts: Pool2DOptions) {
    super('avgpool', opts);
    const [ho, wo] = this.outputShape;
    const [h, w] = this.inputShape;
    const p = this.poolSize;
    const inside = (o: number, before: number, size: number) => {
      const start = o * this.stride - before;
      return Math.min(start + p, size) - Math.max(start, 0);
    };
    const scale = new Float32Array(ho * wo);
    let partial = false;
    for (let r = 0; r < ho; r++) {
      for (let c = 0; c < wo; c++) {
        const count = inside(r, this.padH.before, h) * inside(c, this.padW.before, w);
        scale[r * wo + c] = (p * p) / count;
        partial ||= count !== p * p;
      }
    }
    this.borderScale = partial ? scale : null;
  }

  forward(x: tf.Tensor, _training: boolean): Forward {
    checkBatchOf(x, this.inputShape, `${this.name} forward x`);
    const y = tf.tidy(() => {
      const x4 = asBatchOf(x, this.inputShape, `${this.name} forward x`) as tf.Tensor4D;
      return tf.avgPool(x4, this.poolSize, this.stride, this.padding);
    });
    return { y, trace: [] };
  }

  backward(trace: Trace, dy: tf.Tensor, needInputGrad: boolean): Backward {
    this.checkTrace(trace, 0);
    const b = checkBatchOf(dy, this.outputShape, `${this.name} backward dy`);
    if (!needInputGrad) return { dx: null, grads: [] };
    const dx = tf.tidy(() => {
      let g = asBatchOf(dy, this.outputShape, `${this.name} backward dy`);
      const [ho, wo, c] = this.outputShape;
      const [h, w] = this.inputShape;
      const p = this.poolSize;
      const s = this.stride;
      // each window's dy / count, spread evenly over its p*p positions (padding included)
      g = tf.mul(g, this.borderScale ? tf.mul(tf.tensor4d(this.borderScale, [1, ho, wo, 1]), 1 / (p * p)) : 1 / (p * p));
      let canvas: tf.Tensor;
      if (p === s) {
        // non-overlapping windows: a broadcast of each window's value over its p x p block
        const spread = tf.mul(tf.reshape(g, [b, ho, 1, wo, 1, c]), tf.ones([1, 1, p, 1, p, 1]));
        canvas = tf.reshape(spread, [b, ho * p, wo * p, c]);
      } else {
        canvas = scatterWindows(() => g, p, s, ho, wo);
      }
      return frame(canvas, this.padH.before, this.padW.before, h, w, { fastCrop: true });
    });
    return { dx, grads: [] };
  }
}
