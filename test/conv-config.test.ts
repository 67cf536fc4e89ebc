import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../src/config/resolve.js';
import { ConfigError } from '../src/config/errors.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { presets } from '../src/config/presets.js';

const conv = { type: 'conv2d', filters: 8, kernelSize: 5, batchNorm: true, activation: 'relu' };
const pool = { type: 'maxpool', poolSize: 2 };
const output = { type: 'dense', units: 10, activation: 'linear' };

function cnn(layers: unknown[], model: Record<string, unknown> = { inputShape: [28, 28, 1] }): unknown {
  return { mode: 'cdni', model: { ...model, layers }, optimizer: { learningRate: 1e-3 }, train: { epochs: 1, batchSize: 32 } };
}

function problems(input: unknown): string {
  try {
    validateConfig(input, 'test.json');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail('expected a ConfigError');
}

test('conv layers get their defaults, and every stage interface has a shape', () => {
  const config = validateConfig(cnn([conv, pool, { type: 'conv2d', filters: 4, kernelSize: 3, stride: 2 }, { type: 'flatten' }, output]));
  assert.deepEqual(config.model.layers[2], { type: 'conv2d', filters: 4, kernelSize: 3, stride: 2, padding: 'same', batchNorm: false, activation: 'relu' });
  assert.deepEqual(config.model.layers[1], { type: 'maxpool', poolSize: 2, padding: 'valid' });
  assert.equal(config.model.inputUnits, 784);
  assert.equal(config.synthesizer.kernelSize, 5);
  const specs = stageSpecs(validateConfig({ ...(cnn([conv, pool, { type: 'flatten' }, output]) as object), stages: [[0, 1], [2, 3]] }), 1);
  assert.deepEqual(specs.map((s) => [s.inputShape, s.inputUnits, s.outputShape]), [
    [[28, 28, 1], 784, [14, 14, 8]],
    [[14, 14, 8], 1568, [10]],
  ]);
});

test('an MLP may give inputUnits or a flat inputShape; the two must agree', () => {
  const mlp = [{ type: 'dense', units: 16 }, output];
  assert.deepEqual(validateConfig(cnn(mlp, { inputUnits: 784 })).model.inputShape, [784]);
  assert.deepEqual(validateConfig(cnn(mlp, {})).model.inputShape, [784]);
  assert.match(problems(cnn(mlp, { inputUnits: 784, inputShape: [32, 32, 3] })), /model\.inputUnits: .*\[32,32,3\] has 3072 values but model\.inputUnits is 784/);
});

test('a dense layer after a spatial one needs a flatten', () => {
  assert.match(
    problems(cnn([conv, pool, output])),
    /model\.layers\[2\]: a dense layer needs a flat input but gets layer 1's output \[14, 14, 8\]: put \{ "type": "flatten" \} before it/,
  );
});

test('conv and pooling layers need an image input', () => {
  assert.match(
    problems(cnn([conv, { type: 'flatten' }, output], { inputUnits: 784 })),
    /model\.layers\[0\]: a conv2d layer needs an input of shape \[height, width, channels\] but gets model\.inputShape \[784\] \(set model\.inputShape/,
  );
  assert.match(problems(cnn([{ type: 'flatten' }, pool, output])), /model\.layers\[1\]: a maxpool layer needs .* but gets layer 0's output \[784\]/);
});

test('bad conv fields are named with what was expected', () => {
  const message = problems(cnn([{ ...conv, filters: 0, padding: 'full', strides: 2 }, { type: 'flatten' }, output]));
  assert.match(message, /model\.layers\[0\]\.filters: .*>0/);
  assert.match(message, /model\.layers\[0\]\.padding: .*"same"/);
  assert.match(message, /model\.layers\[0\]\.strides: unknown field/);
  assert.match(problems(cnn([{ type: 'conv3d' }, output])), /model\.layers\[0\]\.type: expected a layer with type 'dense', 'conv2d', 'maxpool', 'avgpool', 'flatten' or 'lstm'/);
  assert.match(problems(cnn([{ type: 'maxpool', poolSize: 40 }, { type: 'flatten' }, output])), /model\.layers\[0\]: .*window.*does not fit in 28/);
  assert.match(problems(cnn([conv, { type: 'flatten' }, { ...output, units: 7 }])), /model\.layers\[2\]\.units: the output layer must have model\.classes/);
  assert.match(problems(cnn([conv, pool])), /model\.layers\[1\]\.type: the output layer must be dense/);
  assert.match(problems(cnn([conv], { inputShape: [28, 0, 1] })), /model\.inputShape\[1\]/);
});

test('the CNN presets are valid and have the interfaces they describe', () => {
  for (const name of ['mnist-cnn-cdni', 'mnist-cnn-backprop'] as const) {
    const specs = stageSpecs(validateConfig(presets[name]), 1);
    assert.deepEqual(specs.map((s) => s.outputShape), [[14, 14, 16], [1568], [10]]);
  }
  for (const name of ['mnist-cnn3-cdni', 'mnist-cnn3-backprop'] as const) {
    const config = validateConfig(presets[name]);
    assert.deepEqual(config.model.layers.map((l) => l.type), ['conv2d', 'maxpool', 'conv2d', 'maxpool', 'flatten', 'dense'], `${name}: three layers with weights`);
    assert.deepEqual(stageSpecs(config, 1).map((s) => s.outputShape), [[14, 14, 16], [1568], [10]]);
  }
  const cifar = stageSpecs(validateConfig(presets['cifar-cnn-cdni']), 1);
  assert.deepEqual(cifar.map((s) => [s.inputShape, s.outputShape]), [
    [[32, 32, 3], [16, 16, 128]],
    [[16, 16, 128], [8, 8, 128]],
    [[8, 8, 128], [10]],
  ]);
});
