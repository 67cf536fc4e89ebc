import { Sequential, Adam, buildLayer, type Layer, type LayerSpec } from '../model/index.js';

/** A small network beside a stage's layers: a synthesizer M[s] or an input model I[s]. */
export interface HelperNetOptions {
  /** Widths of the hidden layers (units, or filters for a convolutional one); [] is a linear map. */
  hiddenLayers: number[];
  batchNorm: boolean;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  rng: () => number;
}

/** Dense hidden layers (optional BatchNorm, ReLU) of the options' widths, then a linear layer of `outputUnits`. */
export function denseHelperLayers(options: HelperNetOptions, outputUnits: number): { hidden: LayerSpec[]; output: LayerSpec } {
  return {
    hidden: options.hiddenLayers.map((units) => ({ type: 'dense', units, batchNorm: options.batchNorm, activation: 'relu' })),
    output: { type: 'dense', units: outputUnits, activation: 'linear' },
  };
}

/**
 * The hidden layers then the output layer, from an input of `inputShape`, named
 * `${name}.hidden${i}` and `${name}.output`, with its own Adam. `zeroOutput`: the output layer
 * starts at zero.
 */
export function buildHelperNet(
  name: string,
  inputShape: readonly number[],
  layers: { hidden: LayerSpec[]; output: LayerSpec },
  options: HelperNetOptions,
  zeroOutput: boolean,
): { net: Sequential; optimizer: Adam } {
  const built: Layer[] = [];
  let shape = inputShape;
  for (const [i, spec] of layers.hidden.entries()) {
    built.push(...buildLayer(spec, shape, options.rng, { name: `${name}.hidden${i}` }));
    shape = built[built.length - 1].outputShape;
  }
  built.push(...buildLayer(layers.output, shape, options.rng, { zeroInit: zeroOutput, name: `${name}.output` }));
  const net = new Sequential(built);
  const { learningRate, beta1, beta2, epsilon } = options;
  return { net, optimizer: new Adam(net.params, { learningRate, beta1, beta2, epsilon }) };
}
