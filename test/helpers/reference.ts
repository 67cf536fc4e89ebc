/**
 * Plain single-process backprop with tfjs autodiff and tf.train.adam: the baseline that the
 * pipelined `backprop` mode must reproduce. Shares nothing with the stage code but the initializer.
 */
import * as tf from '@tensorflow/tfjs';
import type { Config } from '../../src/config/schema.js';
import type { Batch } from '../../src/data/index.js';
import { glorotUniform } from '../../src/model/index.js';
import { stream } from '../../src/pipeline/rng.js';
import { stageGrouping } from '../../src/pipeline/stage-spec.js';

interface RefLayer {
  kernel: tf.Variable;
  bias?: tf.Variable;
  gamma?: tf.Variable;
  beta?: tf.Variable;
  mean?: tf.Variable;
  variance?: tf.Variable;
  relu: boolean;
}

/** Trains on `batches` in order and returns weights grouped like the pipeline's stages. */
export function referenceBackprop(config: Config, batches: Batch[]): Float32Array[][] {
  const seed = String(config.train.seed);
  let width = config.model.inputUnits;
  const layers: RefLayer[] = config.model.layers.map((spec, i) => {
    const kernel = tf.variable(tf.tensor2d(glorotUniform(width, spec.units, stream(seed, 'init', 'layer', i)), [width, spec.units]));
    width = spec.units;
    const relu = spec.activation === 'relu';
    if (!spec.batchNorm) return { kernel, bias: tf.variable(tf.zeros([spec.units])), relu };
    return {
      kernel,
      gamma: tf.variable(tf.ones([spec.units])),
      beta: tf.variable(tf.zeros([spec.units])),
      mean: tf.variable(tf.zeros([spec.units]), false),
      variance: tf.variable(tf.ones([spec.units]), false),
      relu,
    };
  });
  const trainable = layers.flatMap((l) => [l.kernel, l.bias, l.gamma, l.beta].filter((v): v is tf.Variable => !!v));
  const { learningRate, beta1, beta2, epsilon } = config.optimizer;
  const adam = tf.train.adam(learningRate, beta1, beta2, epsilon);

  for (const batch of batches) {
    tf.tidy(() => {
      const x = tf.tensor2d(batch.x, [batch.size, config.model.inputUnits]);
      const labels = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), config.model.classes).toFloat();
      const statUpdates: [tf.Variable, tf.Tensor][] = [];
      const { value, grads } = tf.variableGrads(() => {
        let h: tf.Tensor = x;
        for (const l of layers) {
          h = tf.matMul(h, l.kernel);
          if (l.bias) h = tf.add(h, l.bias);
          if (l.gamma) {
            const { mean, variance } = tf.moments(h, 0);
            statUpdates.push([l.mean!, tf.keep(tf.add(tf.mul(l.mean!, 0.99), tf.mul(mean, 0.01)))]);
            statUpdates.push([l.variance!, tf.keep(tf.add(tf.mul(l.variance!, 0.99), tf.mul(variance, 0.01)))]);
            h = tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-3))), l.gamma), l.beta!);
          }
          if (l.relu) h = tf.relu(h);
        }
        return tf.losses.softmaxCrossEntropy(labels, h) as tf.Scalar;
      }, trainable);
      value.dispose();
      adam.applyGradients(grads as Parameters<typeof adam.applyGradients>[0]);
      for (const [v, t] of statUpdates) {
        v.assign(t);
        t.dispose();
      }
    });
  }

  const perLayer = layers.map((l) => ({
    params: [l.kernel, l.bias, l.gamma, l.beta].filter((v): v is tf.Variable => !!v),
    state: [l.mean, l.variance].filter((v): v is tf.Variable => !!v),
  }));
  const grouped = stageGrouping(config).map((indices) => [
    ...indices.flatMap((i) => perLayer[i].params),
    ...indices.flatMap((i) => perLayer[i].state),
  ]);
  const out = grouped.map((vars) => vars.map((v) => new Float32Array(v.dataSync())));
  tf.dispose([...trainable, ...layers.flatMap((l) => [l.mean, l.variance].filter((v): v is tf.Variable => !!v))]);
  adam.dispose();
  return out;
}

/** Largest absolute difference between two weight sets of the same layout. */
export function maxDifference(a: Float32Array[][], b: Float32Array[][]): number {
  let worst = 0;
  a.forEach((stage, s) =>
    stage.forEach((values, v) => {
      const other = b[s][v];
      if (other.length !== values.length) throw new Error(`stage ${s} array ${v}: ${values.length} vs ${other.length} values`);
      for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i] - other[i]));
    }),
  );
  return worst;
}
