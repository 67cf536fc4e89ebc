import * as tf from '@tensorflow/tfjs-core';
import {
  checkBatchOf,
  checkShape,
  checkUnits,
  formatShape,
  shapeSize,
  type Backward,
  type Forward,
  type Layer,
  type Trace,
} from './layer.js';
import { ops } from '../runtime/ops.js';

export interface BatchNormOptions {
  /** Number of features (channels): the last dimension of inputShape. */
  units: number;
  /**
   * Per-example input shape; default [units]. With more dimensions, e.g. [height, width, channels]
   * (NHWC), the statistics are per channel, over the batch and all positions (as Keras's
   * BatchNormalization on the last axis, and tf.nn.fused_batch_norm).
   */
  inputShape?: readonly number[];
  /** Applied after the normalization (fused). Default 'linear'. */
  activation?: 'relu' | 'linear';
  /** running = momentum * running + (1 - momentum) * batch. Default 0.99 (Keras). */
  momentum?: number;
  /** Default 1e-3 (Keras). */
  epsilon?: number;
  name?: string;
}

/**
 * Batch normalization per feature (per channel for NHWC inputs) over the batch (and positions),
 * y = act(gamma * xhat + beta).
 * Training: batch mean and biased variance; running statistics updated (assign) on every
 * training-mode forward. Eval: running statistics. gamma = 1, beta = 0, running mean 0 / var 1.
 * Inputs are viewed as a [rows, units] matrix (rows = batch * positions; a reshape, no copy).
 * Trace (training): [xhat, gamma * invStd ([1, units]), y (relu only)], as [rows, units] matrices.
 */
export class BatchNorm implements Layer {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly inputUnits: number;
  readonly outputUnits: number;
  /** Features normalized separately: the last dimension of the input shape. */
  readonly units: number;
  readonly activation: 'relu' | 'linear';
  readonly momentum: number;
  readonly epsilon: number;
  readonly gamma: tf.Variable<tf.Rank.R1>;
  readonly beta: tf.Variable<tf.Rank.R1>;
  readonly movingMean: tf.Variable<tf.Rank.R1>;
  readonly movingVariance: tf.Variable<tf.Rank.R1>;
  readonly params: tf.Variable[];
  readonly state: tf.Variable[];

  constructor(opts: BatchNormOptions) {
    checkUnits(opts.units, 'BatchNorm units');
    const shape = opts.inputShape ? [...opts.inputShape] : [opts.units];
    checkShape(shape, 'BatchNorm inputShape');
    if (shape[shape.length - 1] !== opts.units) {
      throw new Error(`BatchNorm: the last dimension of inputShape [${shape.join(', ')}] must be units (${opts.units})`);
    }
    const activation = opts.activation ?? 'linear';
    if (activation !== 'relu' && activation !== 'linear') {
      throw new Error(`BatchNorm: unknown activation '${String(activation)}'`);
    }
    this.momentum = opts.momentum ?? 0.99;
    this.epsilon = opts.epsilon ?? 1e-3;
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new Error(`BatchNorm: momentum must be in [0, 1], got ${this.momentum}`);
    if (!(this.epsilon > 0)) throw new Error(`BatchNorm: epsilon must be > 0, got ${this.epsilon}`);
    const n = opts.units;
    this.name = opts.name ?? `batchnorm(${formatShape(shape)})`;
    this.inputShape = shape;
    this.outputShape = shape;
    this.inputUnits = shapeSize(shape);
    this.outputUnits = this.inputUnits;
    this.units = n;
    this.activation = activation;
    const make = (value: number, trainable: boolean) =>
      tf.tidy(() => tf.variable(tf.fill([n], value) as tf.Tensor1D, trainable));
    this.gamma = make(1, true);
    this.beta = make(0, true);
    this.movingMean = make(0, false);
    this.movingVariance = make(1, false);
    this.params = [this.gamma, this.beta];
    this.state = [this.movingMean, this.movingVariance];
  }

  /** t as a [batch * positions, units] matrix (a zero-copy reshape when needed: call inside tidy). */
  private matrix(t: tf.Tensor, what: string, batch?: number): tf.Tensor2D {
    const b = checkBatchOf(t, this.inputShape, `${this.name} ${what}`, batch);
    if (this.inputShape.length === 1) return t as tf.Tensor2D;
    return tf.reshape(t, [b * (this.inputUnits / this.units), this.units]);
  }

  forward(x: tf.Tensor, training: boolean): Forward {
    checkBatchOf(x, this.inputShape, `${this.name} forward x`);
    const relu = this.activation === 'relu';
    const outShape = [x.shape[0], ...this.outputShape];
    if (!training) {
      const y = tf.tidy(() => {
        const m = this.matrix(x, 'forward x');
        // y = x * scale + shift; cheaper on wasm than the tf.batchNorm kernel
        const scale = tf.mul(this.gamma, tf.rsqrt(tf.add(this.movingVariance, this.epsilon)));
        const shift = tf.sub(this.beta, tf.mul(this.movingMean, scale));
        const z = tf.add(tf.mul(m, scale), shift);
        return tf.reshape(relu ? tf.relu(z) : z, outShape);
      });
      return { y, trace: [] };
    }
    if (x.shape[0] < 1) throw new Error(`${this.name}: training needs at least one row`);
    const out = tf.tidy(() => {
      const n = this.units;
      const m = this.matrix(x, 'forward x');
      const { y, xhat, mean, variance, scale } = ops().batchNormForward(m, this.gamma, this.beta, this.epsilon, relu);
      const mom = this.momentum;
      this.movingMean.assign(tf.add(tf.mul(this.movingMean, mom), tf.mul(tf.reshape(mean, [n]), 1 - mom)));
      this.movingVariance.assign(tf.add(tf.mul(this.movingVariance, mom), tf.mul(tf.reshape(variance, [n]), 1 - mom)));
      // the output is a reshape (a new handle, even for the same shape), so y itself can be traced
      const yOut = tf.reshape(y, outShape);
      return relu ? [yOut, xhat, scale, y] : [yOut, xhat, scale];
    });
    return { y: out[0], trace: out.slice(1) };
  }

  backward(trace: Trace, dy: tf.Tensor, needInputGrad: boolean): Backward {
    const relu = this.activation === 'relu';
    if (trace.length !== (relu ? 3 : 2)) {
      throw new Error(`${this.name}: backward needs the trace of a training-mode forward (got ${trace.length} tensors)`);
    }
    const xhat = trace[0] as tf.Tensor2D;
    const scale = trace[1] as tf.Tensor2D;
    const rows = xhat.shape[0];
    const batch = rows / (this.inputUnits / this.units);
    checkBatchOf(dy, this.outputShape, `${this.name} backward dy`, batch);
    const out = tf.tidy(() => {
      const dym = this.matrix(dy, 'backward dy', batch);
      const { dgamma, dbeta, dx } = ops().batchNormBackward(dym, xhat, relu ? (trace[2] as tf.Tensor2D) : null, scale, needInputGrad);
      const res: tf.Tensor[] = [dgamma, dbeta];
      if (dx) res.push(tf.reshape(dx, [batch, ...this.inputShape]));
      return res;
    });
    return needInputGrad ? { dx: out.pop()!, grads: out } : { dx: null, grads: out };
  }
}
