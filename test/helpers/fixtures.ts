import { loadMnist, makeBatch, type Batch, type Mnist } from '../../src/data/index.js';
import { validateConfig } from '../../src/config/resolve.js';
import type { Config, ConfigInput } from '../../src/config/schema.js';
import type { Split } from '../../src/data/mnist.js';

let mnist: Mnist | null = null;

/** The bundled MNIST, loaded once per test file. */
export function data(): Mnist {
  mnist ??= loadMnist();
  return mnist;
}

/** `count` training batches of `size`, in file order (deterministic). */
export function trainingBatches(count: number, size: number): Batch[] {
  const train = data().train;
  const order = Array.from({ length: count * size }, (_, i) => i);
  return Array.from({ length: count }, (_, b) => makeBatch(train, order, b * size, size));
}

/** An MNIST MLP with BatchNorm and ReLU on the hidden layers, one stage per layer. */
function mlp(...hidden: number[]): ConfigInput['model'] {
  return {
    inputUnits: 784,
    classes: 10,
    layers: [
      ...hidden.map((units) => ({ type: 'dense' as const, units, batchNorm: true, activation: 'relu' as const })),
      { type: 'dense', units: 10, activation: 'linear' },
    ],
  };
}

/** A 784-64-32-32-10 cDNI MLP, one layer per stage: four stages, async with 4 batches in flight. */
export const fourStages: ConfigInput = {
  mode: 'cdni',
  model: mlp(64, 32, 32),
  optimizer: { learningRate: 0.01 },
  backend: 'wasm',
  train: { epochs: 1, batchSize: 32, seed: 7, schedule: 'async', window: 4, maxSteps: 60 },
};

/** A small MLP (784-64-32-10, BatchNorm on the hidden layers), three stages. */
export function smallConfig(over: Omit<Partial<ConfigInput>, 'train'> & { train?: Partial<ConfigInput['train']> } = {}): Config {
  const { train, ...rest } = over;
  return validateConfig({
    mode: 'backprop',
    model: mlp(64, 32),
    optimizer: { learningRate: 1e-2 },
    backend: 'wasm',
    ...rest,
    train: { epochs: 1, batchSize: 32, seed: 7, ...train },
  });
}

/**
 * The MLP on MNIST as two classes (labels low-high: digits 0-4 against 5-9), for kickback: hidden
 * layers `hidden` (default 64 and 32 with BatchNorm and ReLU), then 2 linear outputs.
 */
export function twoClassConfig(mode: Config['mode'], train: Partial<ConfigInput['train']> = {}, hidden: ConfigInput['model']['layers'] = mlp(64, 32).layers.slice(0, -1)): Config {
  return smallConfig({ mode, labels: 'low-high', model: { inputUnits: 784, classes: 2, layers: [...hidden, { type: 'dense', units: 2, activation: 'linear' }] }, train });
}

/** A copy of a batch (feeding transfers, and so empties, the original's buffer). */
export function copyBatch(b: Batch): Batch {
  return { x: b.x.slice(), labels: b.labels.slice(), size: b.size };
}

/**
 * A tiny CNN on MNIST, three stages with spatial interfaces: [conv 3x3x4 + BN + ReLU, maxpool 2]
 * -> 14x14x4 -> [conv 3x3x8 valid + ReLU, avgpool 2] -> 6x6x8 -> [flatten, dense 10].
 */
export function smallCnnConfig(over: Omit<Partial<ConfigInput>, 'train'> & { train?: Partial<ConfigInput['train']> } = {}): Config {
  return smallConfig({
    model: {
      inputShape: [28, 28, 1],
      classes: 10,
      layers: [
        { type: 'conv2d', filters: 4, kernelSize: 3, batchNorm: true, activation: 'relu' },
        { type: 'maxpool', poolSize: 2 },
        { type: 'conv2d', filters: 8, kernelSize: 3, padding: 'valid', activation: 'relu' },
        { type: 'avgpool', poolSize: 2 },
        { type: 'flatten' },
        { type: 'dense', units: 10, activation: 'linear' },
      ],
    },
    stages: [[0, 1], [2, 3], [4, 5]],
    ...over,
  });
}

/** `count` 28x28 images whose class k lights pixel 10k (and a little noise): learnt in a few steps. */
export function easySplit(count: number, seed: number): Split {
  const images = new Uint8Array(count * 784);
  const labels = new Uint8Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    labels[i] = (i * 7 + seed) % 10;
    for (let k = 0; k < 10; k++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      images[i * 784 + k * 10] = s % 64;
    }
    images[i * 784 + labels[i] * 10] = 255;
  }
  return { images, labels, count, rows: 28, cols: 28 };
}
