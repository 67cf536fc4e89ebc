import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../runtime/mat-mul.js';
import {
  alias,
  asBatchOf,
  checkBatchOf,
  columnSum,
  formatShape,
  shapeSize,
  type Backward,
  firstBackward,
  wholeBackward,
  type Forward,
  type InputBackward,
  type Layer,
  type Trace,
} from './layer.js';
import { ops } from '../runtime/ops.js';
import { axisPadding, checkPositiveInt, conv2dOutputShape, frame, type AxisPadding, type Padding } from './spatial.js';

/**
 * The most values of a window matrix built at once for the filter gradient (64 MiB of float32):
 * larger batches take it in runs of examples, a matMul each, summed.
 */
const WINDOW_MATRIX_MAX_VALUES = 2 ** 24;

export interface Conv2DOptions {
  /** Per-example input shape [height, width, channels] (NHWC). */
  inputShape: readonly number[];
  filters: number;
  /** Square kernels: kernelSize x kernelSize. */
  kernelSize: number;
  /** Default 1. */
  stride?: number;
  /** Default 'same'. */
  padding?: Padding;
  useBias: boolean;
  activation: 'relu' | 'linear';
  /**
   * Initial kernel, row-major [kernelSize, kernelSize, channels, filters] (copied; e.g.
   * glorotUniformConv), or 'zeros'. The bias starts at zero.
   */
  init: Float32Array | 'zeros';
  name?: string;
}

/**
 * Whether the filter gradient is cheaper as a window matrix times dz than as the conv2d below, on
 * wasm: the matrix costs a pass over k²·c·b·ho·wo values, which the matMul pays back at about
 * 2·filters FLOPs per value against the conv2d's lower speed. Measured (batch 128, 5x5 same):
 * the matrix took 0.8x the conv2d's time with 16 filters on 16 channels, 0.8x on 10, 1.1-1.2x on
 * 24-28; 0.8x with 32 filters on 16 channels, 0.9-1.0x on 26-32; 0.3x on one channel.
 */
function windowMatrixPays(channels: number, filters: number): boolean {
  return channels <= 16 || filters >= 32;
}

/**
 * 2-D convolution on NHWC batches, y = act(conv(x, W) + b), W: [k, k, in, filters].
 * Forward: one fused conv2d (bias and ReLU fused).
 * Backward, with only kernels the wasm backend has (it has no Conv2DBackpropFilter, and its
 * Conv2DBackpropInput is ~8x slower than its Conv2D):
 *  - dW: a convolution of the input with the output gradient. With the batch as the channel axis,
 *    dW[i, j, c, f] = sum over (b, h, w) of xpad[b, i + s*h, j + s*w, c] * dz[b, h, w, f] is
 *    conv2d(xpad as [c, H', W', b], dz as a [Ho, Wo, b, f] filter, 'valid', dilation s) -> [c, k, k, f].
 *  - dx: conv2d of dz (dilated by the stride) with the kernel flipped spatially and in/out swapped,
 *    with explicit padding (k - 1 - padTop before).
 *  - db: column sums as a matMul.
 * dW and dx are XNNPACK convolutions on wasm; slices, gathers and concats (JavaScript there) are
 * avoided on full-size tensors. Where the backend sums dW directly (ops().filterGradient: wasm,
 * filters a multiple of 4; at the speed of its conv2d, 0.5-0.75x the window matrix's time) it
 * does; else where it has a kernel for the window matrix (ops().im2colT: wasm) and that pays
 * (windowMatrixPays), dW is a matMul of it with dz.
 * Trace (training): [x, W, y (relu only)] as zero-copy aliases; W is the kernel at forward time.
 */
export class Conv2D implements Layer {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly inputUnits: number;
  readonly outputUnits: number;
  readonly filters: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: Padding;
  readonly useBias: boolean;
  readonly activation: 'relu' | 'linear';
  readonly kernel: tf.Variable<tf.Rank.R4>;
  readonly bias: tf.Variable<tf.Rank.R1> | null;
  readonly params: tf.Variable[];
  readonly state: tf.Variable[] = [];
  protected readonly padH: AxisPadding;
  protected readonly padW: AxisPadding;

  constructor(opts: Conv2DOptions) {
    const stride = opts.stride ?? 1;
    const padding = opts.padding ?? 'same';
    this.outputShape = conv2dOutputShape(opts.inputShape, opts.filters, opts.kernelSize, stride, padding);
    if (opts.activation !== 'relu' && opts.activation !== 'linear') {
      throw new Error(`Conv2D: unknown activation '${String(opts.activation)}'`);
    }
    const [h, w, c] = opts.inputShape;
    const k = opts.kernelSize;
    const shape: [number, number, number, number] = [k, k, c, opts.filters];
    if (opts.init !== 'zeros' && opts.init.length !== shapeSize(shape)) {
      throw new Error(`Conv2D: init has ${opts.init.length} values, expected ${shapeSize(shape)} ([${shape.join(', ')}])`);
    }
    this.inputShape = [...opts.inputShape];
    this.inputUnits = shapeSize(this.inputShape);
    this.outputUnits = shapeSize(this.outputShape);
    this.filters = opts.filters;
    this.kernelSize = k;
    this.stride = stride;
    this.padding = padding;
    this.padH = axisPadding(h, k, stride, padding);
    this.padW = axisPadding(w, k, stride, padding);
    const strideText = stride === 1 ? '' : `/${stride}`;
    const padText = padding === 'same' ? '' : ' valid';
    this.name = opts.name ?? `conv2d(${k}x${k}${strideText}${padText}, ${formatShape(this.inputShape)}->${formatShape(this.outputShape)})`;
    this.useBias = opts.useBias;
    this.activation = opts.activation;
    const init = opts.init;
    this.kernel = tf.tidy(() => tf.variable(init === 'zeros' ? tf.zeros(shape) : tf.tensor4d(init.slice(), shape), true));
    this.bias = opts.useBias ? tf.tidy(() => tf.variable(tf.zeros([opts.filters]) as tf.Tensor1D, true)) : null;
    this.params = this.bias ? [this.kernel, this.bias] : [this.kernel];
  }

  forward(x: tf.Tensor, training: boolean): Forward {
    checkBatchOf(x, this.inputShape, `${this.name} forward x`);
    const out = tf.tidy(() => {
      const x4 = asBatchOf(x, this.inputShape, `${this.name} forward x`) as tf.Tensor4D;
      const y = tf.fused.conv2d({
        x: x4,
        filter: this.kernel,
        strides: this.stride,
        pad: this.padding,
        bias: this.bias ?? undefined,
        activation: this.activation,
      });
      if (!training) return [y];
      const trace = [alias(x4), alias(this.kernel)];
      return this.activation === 'relu' ? [y, ...trace, alias(y)] : [y, ...trace];
    });
    return { y: out[0], trace: out.slice(1) };
  }

  backward(trace: Trace, dy: tf.Tensor, needInputGrad: boolean): Backward {
    return wholeBackward(
      this.outputGradient(trace, dy),
      (dz) => this.parameterGradients(trace, [dz]),
      needInputGrad ? (dz) => this.inputGradient(dz as tf.Tensor4D, this.inputKernel(trace)) : null,
    );
  }

  inputBackward(trace: Trace, dy: tf.Tensor): InputBackward {
    return firstBackward(this.outputGradient(trace, dy), (dz) => this.inputGradient(dz as tf.Tensor4D, this.inputKernel(trace)));
  }

  /** What forward(x, true) keeps for a linear layer ([x, W]), without computing y. */
  linearTrace(x: tf.Tensor, _condition?: tf.Tensor): Trace {
    if (this.activation !== 'linear') throw new Error(`${this.name}: linearTrace is for a linear layer`);
    return [x, this.kernel];
  }

  /** Tensors of the trace before y (relu): [x, W] here. */
  protected get traced(): number {
    return 2;
  }

  /** The kernel that carries the input gradient: the traced kernel's (here, all of it). */
  protected inputKernel(trace: Trace): tf.Tensor4D {
    return trace[1] as tf.Tensor4D;
  }

  /** [dW, db] from pending [dz]. */
  parameterGradients(trace: Trace, [dz]: tf.Tensor[]): tf.Tensor[] {
    const x = trace[0] as tf.Tensor4D;
    return tf.tidy(() => {
      const res: tf.Tensor[] = [this.filterGradient(x, dz as tf.Tensor4D)];
      if (this.useBias) {
        const rows = x.shape[0] * this.outputShape[0] * this.outputShape[1];
        res.push(tf.reshape(columnSum(tf.reshape(dz, [rows, this.filters]) as tf.Tensor2D), [this.filters]));
      }
      return res;
    });
  }

  /**
   * dz = dL/d(pre-activation) [batch, ...outputShape], a tensor of its own (the caller disposes
   * it), from a trace of `traced` tensors, then y for relu.
   */
  protected outputGradient(trace: Trace, dy: tf.Tensor): tf.Tensor4D {
    const traced = this.traced;
    const relu = this.activation === 'relu';
    if (trace.length !== (relu ? traced + 1 : traced)) {
      throw new Error(`${this.name}: backward needs the trace of a training-mode forward (got ${trace.length} tensors)`);
    }
    checkBatchOf(dy, this.outputShape, `${this.name} backward dy`, trace[0].shape[0]);
    return tf.tidy(() => {
      const dy4 = asBatchOf(dy, this.outputShape, `${this.name} backward dy`) as tf.Tensor4D;
      return relu ? (tf.mul(dy4, tf.step(trace[traced])) as tf.Tensor4D) : alias(dy4);
    });
  }

  /**
   * dL/dW [k, k, c, filters] from an input x of c channels (this layer's, or fewer: see
   * ConditionedConv2D) and dz = dL/d(pre-activation).
   */
  protected filterGradient(x: tf.Tensor4D, dz: tf.Tensor4D): tf.Tensor4D {
    const k = this.kernelSize;
    const s = this.stride;
    const [h, w] = this.inputShape;
    const c = x.shape[3];
    const [ho, wo] = this.outputShape;
    // summed directly by a backend kernel (wasm: filter_gradient, with filters a multiple of 4)
    const direct = ops().filterGradient?.(x, dz, k, s, this.padH.before, this.padW.before);
    if (direct) return direct;
    // the windows as columns (a backend kernel) times dz: [k·k·c, b·ho·wo] @ [b·ho·wo, filters],
    // in runs of examples whose window matrix stays under WINDOW_MATRIX_MAX_VALUES
    const im2colT = ops().im2colT;
    if (im2colT && x.dtype === 'float32' && windowMatrixPays(c, this.filters)) {
      const batch = x.shape[0];
      const run = Math.max(1, Math.min(batch, Math.floor(WINDOW_MATRIX_MAX_VALUES / (k * k * c * ho * wo))));
      const rows = tf.reshape(dz, [batch * ho * wo, this.filters]) as tf.Tensor2D;
      let sum: tf.Tensor2D | null = null;
      for (let first = 0; first < batch; first += run) {
        const count = Math.min(run, batch - first);
        const cols = im2colT(x, k, s, this.padH.before, this.padW.before, ho, wo, [first, count])!;
        const part: tf.Tensor2D = matMul(cols, count === batch ? rows : tf.slice(rows, [first * ho * wo, 0], [count * ho * wo, this.filters]));
        sum = sum ? tf.add<tf.Tensor2D>(sum, part) : part;
      }
      return tf.reshape(sum!, [k, k, c, this.filters]);
    }
    // the rows and columns the windows read, (out - 1) * s + k from -padBefore; only padded here (a
    // crop would be a slow slice on wasm): extra rows or columns give extra outputs, cut below
    const rows = Math.max((ho - 1) * s + k, h + this.padH.before);
    const cols = Math.max((wo - 1) * s + k, w + this.padW.before);
    const xp = frame(x, -this.padH.before, -this.padW.before, rows, cols);
    const xt = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [in, rows, cols, batch]
    const f = tf.transpose(dz, [1, 2, 0, 3]) as tf.Tensor4D; // [ho, wo, batch, filters]
    let r = tf.conv2d(xt, f, 1, 'valid', 'NHWC', s); // [in, >= k, >= k, filters]
    if (r.shape[1] !== k || r.shape[2] !== k) r = tf.slice(r, [0, 0, 0, 0], [r.shape[0], k, k, this.filters]); // small
    return tf.transpose(r, [1, 2, 0, 3]);
  }

  /** dL/dx [batch, h, w, in]: the transposed convolution of dz, as a conv2d with the flipped kernel. */
  protected inputGradient(dz: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
    const k = this.kernelSize;
    const s = this.stride;
    const [h, wd] = this.inputShape;
    const [ho, wo, f] = this.outputShape;
    let g: tf.Tensor4D = dz;
    if (s > 1) {
      // s - 1 zeros after every row and column: [b, ho, 1, wo, 1, f] padded to [b, ho, s, wo, s, f]
      const b = dz.shape[0];
      const spread = tf.pad(tf.reshape(dz, [b, ho, 1, wo, 1, f]), [[0, 0], [0, 0], [0, s - 1], [0, 0], [0, s - 1], [0, 0]]);
      g = tf.reshape(spread, [b, ho * s, wo * s, f]);
    }
    const flipped = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D; // [k, k, filters, in]
    // dx[r] = sum_i g[r + padBefore - i] W[i]: a 'valid' conv of g padded by k - 1 - padBefore in front;
    // behind, what makes h rows (g's trailing zero rows count as padding; if too many, crop dx)
    const top = k - 1 - this.padH.before;
    const left = k - 1 - this.padW.before;
    const bottom = Math.max(h + k - 1 - g.shape[1] - top, 0);
    const right = Math.max(wd + k - 1 - g.shape[2] - left, 0);
    const dx = tf.conv2d(g, flipped, 1, [[0, 0], [top, bottom], [left, right], [0, 0]]);
    return frame(dx, 0, 0, h, wd, { fastCrop: true }) as tf.Tensor4D;
  }
}
