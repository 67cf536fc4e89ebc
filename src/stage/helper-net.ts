import * as tf from '@tensorflow/tfjs-core';
import { Sequential, Adam, Conv2D, Dense, buildLayer, type DenseActivation, type Layer, type LayerSpec } from '../model/index.js';
import { ops } from '../runtime/ops.js';

/** A small network beside a stage's layers: a synthesizer M[s] or an input model I[s]. */
export interface HelperNetOptions {
  /** Widths of the hidden layers (units, or filters for a convolutional one); [] is a linear map. */
  hiddenLayers: number[];
  batchNorm: boolean;
  /** The dense hidden layers' activation (default relu). */
  activation?: DenseActivation;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  rng: () => number;
}

/** Dense hidden layers (optional BatchNorm; ReLU unless `activation` says) of the options' widths, then a linear layer of `outputUnits`. */
export function denseHelperLayers(options: HelperNetOptions, outputUnits: number): { hidden: LayerSpec[]; output: LayerSpec } {
  return {
    hidden: options.hiddenLayers.map((units) => ({ type: 'dense', units, batchNorm: options.batchNorm, activation: options.activation ?? 'relu' })),
    output: { type: 'dense', units: outputUnits, activation: 'linear' },
  };
}

/** What a helper net takes: x, and the one-hot label for a net whose first layer is conditioned on it. */
export interface HelperInput {
  x: tf.Tensor;
  condition?: tf.Tensor;
}

/**
 * The hidden layers then the output layer, from an input of `inputShape`, named
 * `${name}.hidden${i}` and `${name}.output`, with its own Adam. `zeroOutput`: the output layer
 * starts at zero. `labelChannels`: the last channels of a spatial input are a one-hot label, which
 * the first layer (a conv) takes as its condition instead of in x (see ConditionedConv2D).
 */
export function buildHelperNet(
  name: string,
  inputShape: readonly number[],
  layers: { hidden: LayerSpec[]; output: LayerSpec },
  options: HelperNetOptions,
  zeroOutput: boolean,
  labelChannels = 0,
): { net: Sequential; optimizer: Adam } {
  const built: Layer[] = [];
  let shape = inputShape;
  for (const [i, spec] of layers.hidden.entries()) {
    built.push(...buildLayer(spec, shape, options.rng, { name: `${name}.hidden${i}`, labelChannels: i === 0 ? labelChannels : 0 }));
    shape = built[built.length - 1].outputShape;
  }
  const first = layers.hidden.length === 0;
  built.push(...buildLayer(layers.output, shape, options.rng, { zeroInit: zeroOutput, name: `${name}.output`, labelChannels: first ? labelChannels : 0 }));
  const net = new Sequential(built);
  const { learningRate, beta1, beta2, epsilon } = options;
  return { net, optimizer: new Adam(net.params, { learningRate, beta1, beta2, epsilon }) };
}

/** What one regression step reports: [Σ (y - k·target)², Σ used·target, Σ used², Σ target²]. */
export type RegressionSums = [squares: number, usedTarget: number, usedSquares: number, targetSquares: number];

/**
 * One Adam step of a helper net on ||net(x) - k·target||² / rows (x from `input`, made inside the
 * step's tidy scope), and the sums it reports; `used` (default: target) is what the cosine is taken
 * against. The gradient 2/rows · (y - k·target) comes from one pass on wasm (src/runtime/kernels.wat)
 * instead of about fifteen tfjs ops; it is the same float32 arithmetic either way. The step is
 * taken at once; the sums come when read (on a GPU, once the step's work is done).
 */
export function regressionStep(
  net: Sequential,
  optimizer: Adam,
  input: () => HelperInput,
  target: tf.Tensor,
  k: number,
  used: tf.Tensor = target,
): Promise<RegressionSums> {
  const stats = tf.tidy(() => {
    const { x, condition } = input();
    const { y, trace } = net.forward(x, true, condition);
    const { dy, stats } = ops().regression(y, target, used, k, 2 / x.shape[0]);
    const { grads } = net.backward(trace, dy, false);
    optimizer.step(grads);
    return stats;
  });
  return readSums(stats);
}

/**
 * The same step for a one-layer linear net (a dense or conv layer without activation) from the
 * prediction it made for these inputs (`prediction`, in units of 1/k: y = k·prediction), instead
 * of a second forward pass: the layer's parameter gradients need only its input x and dL/dy.
 */
export function regressionStepFromPrediction(
  net: Sequential,
  optimizer: Adam,
  input: () => HelperInput,
  target: tf.Tensor,
  k: number,
  prediction: tf.Tensor,
  used: tf.Tensor = prediction,
): Promise<RegressionSums> {
  const layer = linearLayer(net);
  const stats = tf.tidy(() => {
    const { x, condition } = input();
    const { dy, stats } = ops().regression(tf.mul(prediction, k), target, used, k, 2 / x.shape[0]);
    // the trace its training forward would keep; the kernel in it serves only the input gradient, not asked for
    const { grads } = net.backward([layer.linearTrace(x, condition)], dy, false);
    optimizer.step(grads);
    return stats;
  });
  return readSums(stats);
}

/** The net's one layer, which must be a linear dense or conv layer (its training trace [x, W]). */
function linearLayer(net: Sequential): Dense | Conv2D {
  const [layer, ...rest] = net.layers;
  if (rest.length > 0 || !(layer instanceof Dense || layer instanceof Conv2D) || layer.activation !== 'linear') {
    throw new Error(`a step from the prediction needs one linear dense or conv layer, got [${net.layers.map((l) => l.name).join(', ')}]`);
  }
  return layer;
}

async function readSums(stats: tf.Tensor1D): Promise<RegressionSums> {
  const sums = Array.from(await stats.data()) as RegressionSums;
  stats.dispose();
  return sums;
}
