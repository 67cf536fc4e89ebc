import * as tf from '@tensorflow/tfjs';
import { alias, checkMatrix, checkUnits, columnSum, type Backward, type Forward, type Layer, type Trace } from './layer.js';

export interface BatchNormOptions {
  units: number;
  /** Applied after the normalization (fused). Default 'linear'. */
  activation?: 'relu' | 'linear';
  /** running = momentum * running + (1 - momentum) * batch. Default 0.99 (Keras). */
  momentum?: number;
  /** Default 1e-3 (Keras). */
  epsilon?: number;
  name?: string;
}

/**
 * Batch normalization per feature over the batch axis, y = act(gamma * xhat + beta).
 * Training: batch mean and biased variance; running statistics updated (assign) on every
 * training-mode forward. Eval: running statistics. gamma = 1, beta = 0, running mean 0 / var 1.
 * Trace (training): [xhat, gamma * invStd ([1, units]), y (relu only)].
 */
export class BatchNorm implements Layer {
  readonly name: string;
  readonly inputUnits: number;
  readonly outputUnits: number;
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
    const activation = opts.activation ?? 'linear';
    if (activation !== 'relu' && activation !== 'linear') {
      throw new Error(`BatchNorm: unknown activation '${String(activation)}'`);
    }
    this.momentum = opts.momentum ?? 0.99;
    this.epsilon = opts.epsilon ?? 1e-3;
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new Error(`BatchNorm: momentum must be in [0, 1], got ${this.momentum}`);
    if (!(this.epsilon > 0)) throw new Error(`BatchNorm: epsilon must be > 0, got ${this.epsilon}`);
    const n = opts.units;
    this.name = opts.name ?? `batchnorm(${n})`;
    this.inputUnits = n;
    this.outputUnits = n;
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

  forward(x: tf.Tensor2D, training: boolean): Forward {
    checkMatrix(x, this.inputUnits, `${this.name} forward x`);
    const relu = this.activation === 'relu';
    if (!training) {
      const y = tf.tidy(() => {
        // y = x * scale + shift; cheaper on wasm than the tf.batchNorm kernel
        const scale = tf.mul(this.gamma, tf.rsqrt(tf.add(this.movingVariance, this.epsilon)));
        const shift = tf.sub(this.beta, tf.mul(this.movingMean, scale));
        const z = tf.add(tf.mul(x, scale), shift);
        return relu ? tf.relu(z) : z;
      });
      return { y, trace: [] };
    }
    const rows = x.shape[0];
    if (rows < 1) throw new Error(`${this.name}: training needs at least one row`);
    const out = tf.tidy(() => {
      const n = this.outputUnits;
      const mean = columnSum(x, 1 / rows); // [1, n]
      const centered = tf.sub(x, mean);
      const variance = columnSum(tf.square(centered) as tf.Tensor2D, 1 / rows); // biased, [1, n]
      const invStd = tf.rsqrt(tf.add(variance, this.epsilon));
      const xhat = tf.mul(centered, invStd);
      const z = tf.add(tf.mul(xhat, this.gamma), this.beta);
      const y = relu ? tf.relu(z) : z;
      const scale = tf.mul(invStd, this.gamma); // [1, n]
      const m = this.momentum;
      this.movingMean.assign(tf.add(tf.mul(this.movingMean, m), tf.mul(tf.reshape(mean, [n]), 1 - m)));
      this.movingVariance.assign(tf.add(tf.mul(this.movingVariance, m), tf.mul(tf.reshape(variance, [n]), 1 - m)));
      return relu ? [y, xhat, scale, alias(y)] : [y, xhat, scale];
    });
    return { y: out[0], trace: out.slice(1) };
  }

  backward(trace: Trace, dy: tf.Tensor2D, needInputGrad: boolean): Backward {
    const relu = this.activation === 'relu';
    if (trace.length !== (relu ? 3 : 2)) {
      throw new Error(`${this.name}: backward needs the trace of a training-mode forward (got ${trace.length} tensors)`);
    }
    const xhat = trace[0] as tf.Tensor2D;
    const scale = trace[1] as tf.Tensor2D;
    const rows = xhat.shape[0];
    checkMatrix(dy, this.outputUnits, `${this.name} backward dy`, rows);
    const out = tf.tidy(() => {
      const n = this.outputUnits;
      const dz = relu ? tf.mul(dy, tf.step(trace[2])) as tf.Tensor2D : dy;
      const dbeta = columnSum(dz); // [1, n]
      const dgamma = columnSum(tf.mul(dz, xhat) as tf.Tensor2D); // [1, n]
      const res: tf.Tensor[] = [tf.reshape(dgamma, [n]), tf.reshape(dbeta, [n])];
      if (needInputGrad) {
        // dx = (gamma * invStd / N) * (N * dz - sum(dz) - xhat * sum(dz * xhat))
        const meanTerm = tf.mul(scale, tf.mul(dbeta, 1 / rows));
        const xhatTerm = tf.mul(scale, tf.mul(dgamma, 1 / rows));
        res.push(tf.sub(tf.sub(tf.mul(dz, scale), meanTerm), tf.mul(xhat, xhatTerm)));
      }
      return res;
    });
    return needInputGrad ? { dx: out.pop()!, grads: out } : { dx: null, grads: out };
  }
}
