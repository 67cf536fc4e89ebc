import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../runtime/mat-mul.js';
import { alias, asBatchOf, checkBatchOf, columnSum, transpose2d, type Forward, type Trace } from './layer.js';
import { Conv2D, type Conv2DOptions } from './conv.js';

export interface ConditionedConv2DOptions extends Conv2DOptions {
  /**
   * The last `classes` of inputShape's channels are a one-hot label, constant over height and
   * width: they come as the condition ([batch, classes]), not in x, which has the others.
   */
  classes: number;
}

/**
 * A convolution of [h, c]: h [batch, height, width, channels] and the one-hot label c as `classes`
 * more channels, each constant over the image (cDNI's conditioned convolutional synthesizer). It
 * has the parameters of the Conv2D over all channels (kernel [k, k, channels + classes, filters])
 * and computes the same, but never builds the label channels nor convolves them:
 *
 *   conv([h, c], W) = conv(h, W_h) + c · R,   R[l] = conv(E_l, W_c)   (R: [classes, Ho, Wo, filters])
 *
 * where W_h, W_c are the kernel's h and label channels and E_l is the image whose label channel l
 * is 1 (R[l] is what class l adds, edges included). The kernel gradient of W_c is likewise the
 * filter gradient of the images E_l with D = cᵀ·dz, dz summed over the examples of each class.
 * The convolution then runs on h's channels only: with 16 channels and 10 classes, 16/26 of the
 * work (the label's part costs about what a batch of `classes` examples would).
 *
 * forward(x, training, condition): x is h, condition the one-hot label [batch, classes].
 * Trace (training): [x, W, c, y (relu only)].
 */
export class ConditionedConv2D extends Conv2D {
  readonly classes: number;
  /** Channels of h: the input's channels less the label's. */
  readonly channels: number;
  /** E: [classes, height, width, classes], E[l, :, :, l] = 1 (made when first needed). */
  private planes: tf.Tensor4D | null = null;

  constructor(opts: ConditionedConv2DOptions) {
    super(opts);
    const channels = opts.inputShape[2] - opts.classes;
    if (!(Number.isInteger(opts.classes) && opts.classes > 0 && channels > 0)) {
      throw new Error(`ConditionedConv2D: ${opts.classes} label channels of an input of ${opts.inputShape[2]} channels leave none for h`);
    }
    this.classes = opts.classes;
    this.channels = channels;
  }

  /** Per-example shape of h: inputShape without the label channels. */
  get hShape(): number[] {
    const [h, w] = this.inputShape;
    return [h, w, this.channels];
  }

  override forward(x: tf.Tensor, training: boolean, condition?: tf.Tensor): Forward {
    const hShape = this.hShape;
    checkBatchOf(x, hShape, `${this.name} forward x`);
    const c = this.checkCondition(condition, x.shape[0]);
    const out = tf.tidy(() => {
      const x4 = asBatchOf(x, hShape, `${this.name} forward x`) as tf.Tensor4D;
      const [wh, wc] = this.split(this.kernel);
      const [ho, wo, f] = this.outputShape;
      const conv = tf.conv2d(x4, wh, this.stride, this.padding);
      // c · R: each example's class response, as a [batch, classes] x [classes, Ho·Wo·F] matMul
      const responses = tf.reshape(tf.conv2d(this.classPlanes(), wc, this.stride, this.padding), [this.classes, ho * wo * f]);
      let z = tf.add(conv, tf.reshape(matMul(c, responses), [x4.shape[0], ho, wo, f]));
      if (this.bias) z = tf.add(z, this.bias);
      const y = this.activation === 'relu' ? tf.relu(z) : z;
      if (!training) return [y];
      const trace = [alias(x4), alias(this.kernel), alias(c)];
      return this.activation === 'relu' ? [y, ...trace, alias(y)] : [y, ...trace];
    });
    return { y: out[0], trace: out.slice(1) };
  }

  /** [x, W, c] */
  protected override get traced(): number {
    return 3;
  }

  /** dx is h's: the traced kernel's h channels. */
  protected override inputKernel(trace: Trace): tf.Tensor4D {
    return this.split(trace[1] as tf.Tensor4D)[0];
  }

  /** What forward(x, true, condition) keeps for a linear layer ([x, W, c]), without computing y. */
  override linearTrace(x: tf.Tensor, condition?: tf.Tensor): Trace {
    return [...super.linearTrace(x), this.checkCondition(condition, x.shape[0])];
  }

  /** [dW (h's channels, then the label's), db] from pending [dz]. */
  override parameterGradients(trace: Trace, [dz]: tf.Tensor[]): tf.Tensor[] {
    const [x, , c] = trace as [tf.Tensor4D, tf.Tensor4D, tf.Tensor2D];
    const batch = x.shape[0];
    return tf.tidy(() => {
      const [ho, wo, f] = this.outputShape;
      const rows = tf.reshape(dz, [batch, ho * wo * f]) as tf.Tensor2D;
      // D[l] = Σ over the examples of class l of dz: the output gradient of the images E_l. As
      // (rowsᵀ c)ᵀ: on wasm a matMul packs its second operand, here c, not the 30x larger rows
      // (which filterGradient also takes as a second operand, in another shape: see matMul)
      const perClass = tf.reshape(transpose2d(matMul(transpose2d(rows), c)), [this.classes, ho, wo, f]) as tf.Tensor4D;
      const dw = tf.concat([this.filterGradient(x, dz as tf.Tensor4D), this.filterGradient(this.classPlanes(), perClass)], 2);
      const res: tf.Tensor[] = [dw];
      if (this.useBias) res.push(tf.reshape(columnSum(tf.reshape(dz, [batch * ho * wo, f]) as tf.Tensor2D), [f]));
      return res;
    });
  }

  dispose(): void {
    this.planes?.dispose();
    this.planes = null;
  }

  /** The kernel's h channels and label channels: [k, k, channels, F] and [k, k, classes, F]. */
  private split(w: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    const [k, , , f] = w.shape;
    return [tf.slice(w, [0, 0, 0, 0], [k, k, this.channels, f]), tf.slice(w, [0, 0, this.channels, 0], [k, k, this.classes, f])];
  }

  private classPlanes(): tf.Tensor4D {
    if (!this.planes) {
      const [h, w] = this.inputShape;
      const l = this.classes;
      this.planes = tf.tidy(() => tf.keep(tf.mul(tf.reshape(tf.eye(l), [l, 1, 1, l]), tf.ones([1, h, w, 1])) as tf.Tensor4D));
    }
    return this.planes;
  }

  private checkCondition(condition: tf.Tensor | undefined, batch: number): tf.Tensor2D {
    if (!condition || condition.rank !== 2 || condition.shape[0] !== batch || condition.shape[1] !== this.classes) {
      const got = condition ? `[${condition.shape.join(', ')}]` : 'none';
      throw new Error(`${this.name}: forward needs the one-hot label as its condition, [${batch}, ${this.classes}], got ${got}`);
    }
    return condition as tf.Tensor2D;
  }
}
