import { Sequential, Adam, buildLayer, type Layer } from '../model/index.js';

/** A small network beside a stage's layers: a synthesizer M[s] or an input model I[s]. */
export interface HelperNetOptions {
  /** Widths of the hidden layers (dense, optional BatchNorm, ReLU); [] is a linear map. */
  hiddenLayers: number[];
  batchNorm: boolean;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  rng: () => number;
}

/**
 * The hidden layers then a linear output layer of `outputUnits`, named `${name}.hidden${i}` and
 * `${name}.output`, with its own Adam. `zeroOutput`: the output layer starts at zero.
 */
export function buildHelperNet(
  name: string,
  inputUnits: number,
  outputUnits: number,
  options: HelperNetOptions,
  zeroOutput: boolean,
): { net: Sequential; optimizer: Adam } {
  const layers: Layer[] = [];
  let width = inputUnits;
  for (const [i, units] of options.hiddenLayers.entries()) {
    const spec = { type: 'dense', units, batchNorm: options.batchNorm, activation: 'relu' } as const;
    layers.push(...buildLayer(spec, width, options.rng, { name: `${name}.hidden${i}` }));
    width = units;
  }
  const output = { type: 'dense', units: outputUnits, activation: 'linear' } as const;
  layers.push(...buildLayer(output, width, options.rng, { zeroInit: zeroOutput, name: `${name}.output` }));
  const net = new Sequential(layers);
  const { learningRate, beta1, beta2, epsilon } = options;
  return { net, optimizer: new Adam(net.params, { learningRate, beta1, beta2, epsilon }) };
}
