/**
 * Plain single-process backprop with tfjs autodiff and tf.train.adam: the baseline that the
 * pipelined `backprop` mode must reproduce. Shares nothing with the stage code but the initializer.
 */
import * as tf from '@tensorflow/tfjs-core';
// the reference is tfjs's own autodiff: the full tfjs package registers every op's gradient (synthgrad
// itself loads tfjs-core alone and writes its backward passes out)
import '@tensorflow/tfjs';
import type { Config, LayerConfig } from '../../src/config/schema.js';
import type { Batch } from '../../src/data/index.js';
import { glorotUniform, glorotUniformConv } from '../../src/model/index.js';
import { layerOutputShapes } from '../../src/config/layer-shapes.js';
import { stream } from '../../src/stage/rng.js';
import { stageGrouping } from '../../src/stage/stage-spec.js';

interface RefLayer {
  /** conv2d/maxpool/avgpool/flatten (dense: no op). */
  spatial?: (h: tf.Tensor) => tf.Tensor;
  kernel?: tf.Variable;
  bias?: tf.Variable;
  gamma?: tf.Variable;
  beta?: tf.Variable;
  mean?: tf.Variable;
  variance?: tf.Variable;
  relu: boolean;
}

/** The variables of one layer spec on inputs of `shape`, initialised as the stages do. */
function refLayer(spec: LayerConfig, shape: number[], rng: () => number): RefLayer {
  switch (spec.type) {
    case 'flatten':
      return { spatial: (h) => tf.reshape(h, [h.shape[0], -1]), relu: false };
    case 'maxpool':
    case 'avgpool': {
      const pool = spec.type === 'maxpool' ? tf.maxPool : tf.avgPool;
      return { spatial: (h) => pool(h as tf.Tensor4D, spec.poolSize, spec.stride ?? spec.poolSize, spec.padding), relu: false };
    }
    case 'dense':
    case 'conv2d': {
      const units = spec.type === 'dense' ? spec.units : spec.filters;
      const kernel =
        spec.type === 'dense'
          ? tf.variable(tf.tensor2d(glorotUniform(shape[0], units, rng), [shape[0], units]))
          : tf.variable(tf.tensor4d(glorotUniformConv(spec.kernelSize, shape[2], units, rng), [spec.kernelSize, spec.kernelSize, shape[2], units]));
      const spatial =
        spec.type === 'conv2d' ? (h: tf.Tensor) => tf.conv2d(h as tf.Tensor4D, kernel as tf.Variable<tf.Rank.R4>, spec.stride, spec.padding) : undefined;
      const relu = spec.activation === 'relu';
      if (!spec.batchNorm) return { spatial, kernel, bias: tf.variable(tf.zeros([units])), relu };
      return {
        spatial,
        kernel,
        gamma: tf.variable(tf.ones([units])),
        beta: tf.variable(tf.zeros([units])),
        mean: tf.variable(tf.zeros([units]), false),
        variance: tf.variable(tf.ones([units]), false),
        relu,
      };
    }
    case 'lstm':
      throw new Error('the autodiff reference is for feed-forward layers (the LSTM has its own, test/lstm.test.ts)');
  }
}

/**
 * Trains on `batches` in order and returns weights grouped like the pipeline's stages. Conv and
 * pooling layers need a backend with their gradients (cpu: wasm has no Conv2DBackpropFilter).
 */
export function referenceBackprop(config: Config, batches: Batch[]): Float32Array[][] {
  const seed = String(config.train.seed);
  const shapes = [config.model.inputShape, ...layerOutputShapes(config.model.inputShape, config.model.layers)];
  const layers = config.model.layers.map((spec, i) => refLayer(spec, shapes[i], stream(seed, 'init', 'layer', i)));
  const variables = (l: RefLayer) => [l.kernel, l.bias, l.gamma, l.beta].filter((v): v is tf.Variable => !!v);
  const trainable = layers.flatMap(variables);
  const { learningRate, beta1, beta2, epsilon } = config.optimizer;
  const adam = tf.train.adam(learningRate, beta1, beta2, epsilon);

  for (const batch of batches) {
    tf.tidy(() => {
      const x = tf.tensor(batch.x, [batch.size, ...config.model.inputShape]);
      const labels = tf.cast(tf.oneHot(tf.tensor1d(batch.labels, 'int32'), config.model.classes), 'float32');
      const statUpdates: [tf.Variable, tf.Tensor][] = [];
      const { value, grads } = tf.variableGrads(() => {
        let h: tf.Tensor = x;
        for (const l of layers) {
          h = l.spatial ? l.spatial(h) : tf.matMul(h, l.kernel!);
          if (l.bias) h = tf.add(h, l.bias);
          if (l.gamma) {
            const { mean, variance } = tf.moments(h, [...Array(h.rank - 1).keys()]);
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
    params: variables(l),
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
