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

export const presets = {
  'mnist-cdni': {
    preset: 'mnist-cdni',
    mode: 'cdni',
    model: mlp,
    synthesizer: { hiddenLayers: [] },
    optimizer,
    train: { ...schedule },
  },
  'mnist-dni': {
    preset: 'mnist-dni',
    mode: 'dni',
    model: mlp,
    synthesizer: { hiddenLayers: [1024, 1024], batchNorm: true },
    optimizer,
    train: { ...schedule },
  },
  'mnist-backprop': {
    preset: 'mnist-backprop',
    mode: 'backprop',
    model: mlp,
    optimizer,
    train: { ...schedule },
  },
  'mnist-cdni-stochastic': {
    preset: 'mnist-cdni-stochastic',
    mode: 'cdni',
    model: mlp,
    synthesizer: { hiddenLayers: [] },
    optimizer,
    train: { ...schedule, updateProbability: 0.2 },
  },
  // complete unlock: stages 1-3 also predict their input from x (synthetic inputs), stages 0-2 their gradient
  'mnist-unlocked': {
    preset: 'mnist-unlocked',
    mode: 'cdni',
    model: mlp,
    synthesizer: { hiddenLayers: [] },
    syntheticInputs: { hiddenLayers: [256], batchNorm: true },
    // every stage does about twice the work, so a shorter schedule: 10 epochs, decay at epochs 6 and 8
    optimizer: { ...optimizer, decaySteps: [2574, 3432] },
    train: { ...schedule, epochs: 10 },
  },
} satisfies Record<string, ConfigInput>;

export type PresetName = keyof typeof presets;
export const defaultPreset: PresetName = 'mnist-cdni';
export const presetNames = Object.keys(presets) as PresetName[];
