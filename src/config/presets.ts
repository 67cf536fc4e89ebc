import type { ConfigInput } from './schema.js';

const hidden = { type: 'dense', units: 256, batchNorm: true, activation: 'relu' } as const;
const output = { type: 'dense', units: 10, activation: 'linear' } as const;

/** 784-256-256-256-10 with BatchNorm and ReLU, one layer per stage (four stages). */
const mlp = { inputUnits: 784, classes: 10, layers: [hidden, hidden, hidden, output] };

// async: stages run free, up to `window` batches in flight; use --schedule lockstep for exact repeatability.
const schedule = {
  epochs: 20,
  batchSize: 128,
  schedule: 'async',
  window: 4,
} as const;

// 20 epochs of 429 steps (batch 128, 55,000 examples): decay at epochs 10 and 15.
const optimizer = { learningRate: 1e-3, decaySteps: [4290, 6435], decayFactor: 0.1 };

/**
 * A small MNIST CNN (the paper's exact MNIST CNN is not citable here): conv 5x5x16 + BN + ReLU,
 * maxpool 2, conv 5x5x32 + BN + ReLU, maxpool 2, flatten, dense 256 + BN + ReLU, dense 10; three
 * stages. h[0] = 14x14x16 is spatial (a convolutional synthesizer); h[1] is the flattened 1568
 * (a dense synthesizer, which can give every position its own weights for the label).
 */
const mnistCnn = {
  inputShape: [28, 28, 1],
  classes: 10,
  layers: [
    { type: 'conv2d', filters: 16, kernelSize: 5, batchNorm: true, activation: 'relu' },
    { type: 'maxpool', poolSize: 2 },
    { type: 'conv2d', filters: 32, kernelSize: 5, batchNorm: true, activation: 'relu' },
    { type: 'maxpool', poolSize: 2 },
    { type: 'flatten' },
    { type: 'dense', units: 256, batchNorm: true, activation: 'relu' },
    { type: 'dense', units: 10, activation: 'linear' },
  ],
} satisfies ConfigInput['model'];
const mnistCnnStages = [[0, 1], [2, 3, 4], [5, 6]];
/** The 3-layer row: the same two conv blocks, then the output layer alone (no hidden dense layer). */
const mnistCnn3 = { ...mnistCnn, layers: [...mnistCnn.layers.slice(0, 5), mnistCnn.layers[6]] } satisfies ConfigInput['model'];
const mnistCnn3Stages = [[0, 1], [2, 3, 4], [5]];
const cnnSchedule = { ...schedule, epochs: 3 };
// 3 epochs of 429 steps: decay after epoch 2
const cnnOptimizer = { learningRate: 1e-3, decaySteps: [858], decayFactor: 0.1 };

/**
 * CIFAR-10, after the paper's 3-layer CNN as we understand it (not confirmed against the paper's
 * text here): three blocks of conv 5x5x128 + BN + ReLU and max pooling 3x3 stride 2 ('same'), then
 * a linear layer; one block per stage, the output layer with the last. Far too slow to train to
 * completion on wasm.
 */
const cifarBlock = [
  { type: 'conv2d', filters: 128, kernelSize: 5, batchNorm: true, activation: 'relu' },
  { type: 'maxpool', poolSize: 3, stride: 2, padding: 'same' },
] as const;
const cifarCnn = {
  inputShape: [32, 32, 3],
  classes: 10,
  layers: [...cifarBlock, ...cifarBlock, ...cifarBlock, { type: 'flatten' }, { type: 'dense', units: 10, activation: 'linear' }],
} satisfies ConfigInput['model'];

/** An MNIST CNN row's preset: 3 epochs, lr ÷10 after epoch 2; cdni with a linear 5x5 conv synthesizer. */
function mnistCnnPreset(mode: 'cdni' | 'backprop', model: ConfigInput['model'], stages: number[][]): ConfigInput {
  return {
    mode,
    model,
    stages,
    ...(mode === 'cdni' && { synthesizer: { hiddenLayers: [], kernelSize: 5 } }),
    optimizer: cnnOptimizer,
    train: { ...cnnSchedule },
  };
}

export const presets = {
  'mnist-cdni': {
    mode: 'cdni',
    model: mlp,
    synthesizer: { hiddenLayers: [] },
    optimizer,
    train: { ...schedule },
  },
  'mnist-dni': {
    mode: 'dni',
    model: mlp,
    synthesizer: { hiddenLayers: [1024, 1024], batchNorm: true },
    optimizer,
    train: { ...schedule },
  },
  'mnist-backprop': {
    mode: 'backprop',
    model: mlp,
    optimizer,
    train: { ...schedule },
  },
  // kickback (Balduzzi et al. 2015) is defined for one output: MNIST as two classes, digits 0-4 against 5-9
  'mnist-kickback': {
    mode: 'kickback',
    labels: 'low-high',
    model: { ...mlp, classes: 2, layers: [hidden, hidden, hidden, { ...output, units: 2 }] },
    optimizer,
    train: { ...schedule },
  },
  'mnist-cdni-stochastic': {
    mode: 'cdni',
    model: mlp,
    synthesizer: { hiddenLayers: [] },
    optimizer,
    train: { ...schedule, updateProbability: 0.2 },
  },
  // complete unlock: stages 1-3 also predict their input from x (synthetic inputs), stages 0-2 their gradient
  'mnist-unlocked': {
    mode: 'cdni',
    model: mlp,
    synthesizer: { hiddenLayers: [] },
    syntheticInputs: { hiddenLayers: [256], batchNorm: true },
    // every stage does about twice the work, so a shorter schedule: 10 epochs, decay at epochs 6 and 8
    optimizer: { ...optimizer, decaySteps: [2574, 3432] },
    train: { ...schedule, epochs: 10 },
  },
  'mnist-cnn-cdni': mnistCnnPreset('cdni', mnistCnn, mnistCnnStages),
  'mnist-cnn-backprop': mnistCnnPreset('backprop', mnistCnn, mnistCnnStages),
  'mnist-cnn3-cdni': mnistCnnPreset('cdni', mnistCnn3, mnistCnn3Stages),
  'mnist-cnn3-backprop': mnistCnnPreset('backprop', mnistCnn3, mnistCnn3Stages),
  'cifar-cnn-cdni': {
    mode: 'cdni',
    model: cifarCnn,
    stages: [[0, 1], [2, 3], [4, 5, 6, 7]],
    // the paper's CNN synthesizer: two 5x5 conv layers of 128 filters with BN and ReLU, then a 5x5 conv
    synthesizer: { hiddenLayers: [128, 128], batchNorm: true, kernelSize: 5 },
    optimizer: { learningRate: 1e-3 },
    train: { ...schedule, epochs: 100 },
  },
} satisfies Record<string, ConfigInput>;

export type PresetName = keyof typeof presets;
export const defaultPreset: PresetName = 'mnist-cdni';
export const presetNames = Object.keys(presets) as PresetName[];

/** One line per preset, for `synthgrad presets`. */
export const presetSummaries: Record<PresetName, string> = {
  'mnist-cdni': 'cDNI on the 784-256-256-256-10 MLP, linear synthesizers, async window 4, 20 epochs (the default)',
  'mnist-dni': 'DNI on the MLP, synthesizers of two hidden layers of 1024 with BatchNorm, async window 4, 20 epochs',
  'mnist-backprop': 'backprop on the MLP: the exact baseline, 20 epochs',
  'mnist-kickback': 'kickback on the MLP, MNIST as two classes (digits 0-4 against 5-9), 20 epochs',
  'mnist-cdni-stochastic': 'cDNI on the MLP, each stage updates with probability 0.2',
  'mnist-unlocked': 'cDNI on the MLP with synthetic inputs on stages 1-3 (complete unlock), 10 epochs',
  'mnist-cnn-cdni': 'cDNI on a small MNIST CNN in 3 stages (conv synthesizer at h[0]), 3 epochs',
  'mnist-cnn-backprop': 'backprop on the small MNIST CNN in 3 stages, 3 epochs',
  'mnist-cnn3-cdni': 'cDNI on the 3-layer MNIST CNN (the conv blocks, then the output layer), 3 epochs',
  'mnist-cnn3-backprop': 'backprop on the 3-layer MNIST CNN, 3 epochs',
  'cifar-cnn-cdni': 'cDNI on a CIFAR-10 CNN of three conv 5x5x128 blocks (needs --data with CIFAR-10), 100 epochs',
};
