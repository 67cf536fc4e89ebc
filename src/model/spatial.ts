import * as tf from '@tensorflow/tfjs-core';

/** 'same': output ceil(size / stride), zero padding split as TensorFlow does; 'valid': no padding. */
export type Padding = 'same' | 'valid';

/** Output size and padding along one spatial axis. */
export interface AxisPadding {
  out: number;
  /** Padding before (top/left) and after (bottom/right). */
  before: number;
  after: number;
}

/**
 * TensorFlow's output size and padding of a window `window` moved by `stride` along an axis of
 * `size`: 'same' -> out = ceil(size / stride), total padding max((out - 1) * stride + window - size, 0),
 * floor(total / 2) before; 'valid' -> out = floor((size - window) / stride) + 1, no padding.
 */
export function axisPadding(size: number, window: number, stride: number, padding: Padding): AxisPadding {
  if (padding === 'same') {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + window - size, 0);
    const before = Math.floor(total / 2);
    return { out, before, after: total - before };
  }
  if (padding === 'valid') {
    if (size < window) throw new Error(`a ${window}-wide window with 'valid' padding does not fit in ${size}`);
    return { out: Math.floor((size - window) / stride) + 1, before: 0, after: 0 };
  }
  throw new Error(`unknown padding '${String(padding)}' (expected 'same' or 'valid')`);
}

export function checkPositiveInt(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${n}`);
}

function checkImageShape(inputShape: readonly number[], what: string): void {
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`${what}: input shape must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`);
  }
}

/** Per-example output shape [outHeight, outWidth, filters] of a conv layer on [height, width, channels]. */
export function conv2dOutputShape(
  inputShape: readonly number[],
  filters: number,
  kernelSize: number,
  stride = 1,
  padding: Padding = 'same',
): [number, number, number] {
  checkImageShape(inputShape, 'conv2d');
  checkPositiveInt(filters, 'conv2d filters');
  checkPositiveInt(kernelSize, 'conv2d kernelSize');
  checkPositiveInt(stride, 'conv2d stride');
  const [h, w] = inputShape;
  return [axisPadding(h, kernelSize, stride, padding).out, axisPadding(w, kernelSize, stride, padding).out, filters];
}

/** Per-example output shape [outHeight, outWidth, channels] of a pooling layer (stride defaults to poolSize). */
export function pool2dOutputShape(
  inputShape: readonly number[],
  poolSize: number,
  stride: number = poolSize,
  padding: Padding = 'valid',
): [number, number, number] {
  checkImageShape(inputShape, 'pool');
  checkPositiveInt(poolSize, 'pool poolSize');
  checkPositiveInt(stride, 'pool stride');
  const [h, w, c] = inputShape;
  return [axisPadding(h, poolSize, stride, padding).out, axisPadding(w, poolSize, stride, padding).out, c];
}

/** The most negative float32: pads max pooling inputs (unlike -Infinity, it times 0 is 0 in a conv). */
export const LOWEST_FLOAT32 = -3.4028234663852886e38;

/**
 * A [batch, height, width, channels] window of the NHWC tensor `t`: out[:, r, c] = t[:, r + top, c + left]
 * where that is inside `t`, `value` elsewhere (negative top/left pad, positive ones crop).
 * Returns `t` itself when the window is exactly `t`. Call inside tf.tidy.
 *
 * Padding is a PadV2 (fast everywhere). Cropping: tf.slice by default (exact; on wasm a JavaScript
 * copy, ~10 ms per million values); with fastCrop, a depthwise conv with a one-hot kernel
 * (~20x faster on wasm, exact for finite values: for gradients, not for activations that may hold
 * sentinels).
 */
export function frame(
  t: tf.Tensor,
  top: number,
  left: number,
  height: number,
  width: number,
  opts: { value?: number; fastCrop?: boolean } = {},
): tf.Tensor {
  const [b, th, tw, c] = t.shape as [number, number, number, number];
  const padTop = Math.max(-top, 0);
  const padLeft = Math.max(-left, 0);
  const padBottom = Math.max(top + height - th, 0);
  const padRight = Math.max(left + width - tw, 0);
  let u = t;
  if (padTop || padLeft || padBottom || padRight) {
    u = tf.pad(t, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]], opts.value ?? 0);
  }
  const r0 = top + padTop;
  const c0 = left + padLeft;
  const uh = th + padTop + padBottom;
  const uw = tw + padLeft + padRight;
  if (r0 === 0 && c0 === 0 && uh === height && uw === width) return u;
  if (!opts.fastCrop) return tf.slice(u, [0, r0, c0, 0], [b, height, width, c]);
  return tf.depthwiseConv2d(u as tf.Tensor4D, oneHotKernel(uh - height + 1, uw - width + 1, r0, c0, c), 1, 'valid');
}

/** A depthwise kernel [kh, kw, channels, 1] that is 1 at (i, j) for every channel, 0 elsewhere. */
function oneHotKernel(kh: number, kw: number, i: number, j: number, channels: number): tf.Tensor4D {
  const values = new Float32Array(kh * kw * channels);
  values.fill(1, (i * kw + j) * channels, (i * kw + j + 1) * channels);
  return tf.tensor4d(values, [kh, kw, channels, 1]);
}

/**
 * The values under window offset (i, j) for every output position of a p x p window with stride s:
 * out[:, h, w] = t[:, i + s*h, j + s*w], as a depthwise conv with a one-hot kernel ('valid': t must
 * hold the padded input, and its values must be finite). Call inside tf.tidy.
 */
export function windowValues(t: tf.Tensor, i: number, j: number, p: number, s: number): tf.Tensor {
  return tf.depthwiseConv2d(t as tf.Tensor4D, oneHotKernel(p, p, i, j, t.shape[3]!), s, 'valid');
}

/**
 * The adjoint of windowValues for every offset of a p x p window with stride s: sums tile(i, j)
 * ([batch, outH, outW, channels], null for zero) into positions (i + s*h, j + s*w) of a canvas of
 * [batch, (outH + q - 1) * s, (outW + q - 1) * s, channels], q = ceil(p / s), which covers the
 * (outH - 1) * s + p rows the windows read. Each tile is placed by one PadV2 of its
 * [b, outH, 1, outW, 1, c] view (the 1-axes take the offset mod s, outH/outW the blocks of s),
 * then the canvases are summed (AddN): no slices or concats, which are slow on wasm.
 * Call inside tf.tidy.
 */
export function scatterWindows(
  tile: (i: number, j: number) => tf.Tensor | null,
  p: number,
  s: number,
  outH: number,
  outW: number,
): tf.Tensor {
  const q = Math.ceil(p / s);
  const placed: tf.Tensor[] = [];
  let shape: number[] | null = null;
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < p; j++) {
      const t = tile(i, j);
      if (!t) continue;
      const [b, , , c] = t.shape as [number, number, number, number];
      shape = [b, (outH + q - 1) * s, (outW + q - 1) * s, c];
      const qi = Math.floor(i / s);
      const qj = Math.floor(j / s);
      const ri = i % s;
      const rj = j % s;
      const spread = tf.pad(tf.reshape(t, [b, outH, 1, outW, 1, c]), [
        [0, 0],
        [qi, q - 1 - qi],
        [ri, s - 1 - ri],
        [qj, q - 1 - qj],
        [rj, s - 1 - rj],
        [0, 0],
      ]);
      placed.push(tf.reshape(spread, shape));
    }
  }
  if (!shape) throw new Error('scatterWindows: every tile is zero');
  return placed.length === 1 ? placed[0] : tf.addN(placed);
}
