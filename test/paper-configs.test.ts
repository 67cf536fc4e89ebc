import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import '@tensorflow/tfjs-backend-cpu';
import { presets } from '../src/config/presets.js';
import { validateConfig } from '../src/config/resolve.js';
import { fcnModes, mnistFcn, mnistFcnDepths, mnistFcnName } from '../src/config/mnist-fcn.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { Synthesizer } from '../src/stage/synthesizer.js';
import { stream } from '../src/stage/rng.js';
import { BatchNorm } from '../src/model/batchnorm.js';
import { budgetSchedule, withBudget } from '../src/lab/paper/budget.js';
import { parseBudget, parseLayers, parseModes, parseProbabilities } from '../src/lab/paper/arguments.js';

const TRAIN = 55_000; // MNIST's training images less the 5,000 validation ones: 429 steps of 128 an epoch

test('mnistFcn(layers, mode): layers - 1 hidden layers of 256 (BatchNorm, ReLU), then 10 linear; one stage per layer', () => {
  for (const layers of mnistFcnDepths) {
    for (const mode of fcnModes) {
      const config = validateConfig(mnistFcn(layers, mode));
      assert.equal(config.preset, mnistFcnName(layers, mode));
      assert.equal(config.mode, mode);
      assert.equal(config.model.layers.length, layers);
      for (const hidden of config.model.layers.slice(0, -1)) assert.deepEqual(hidden, { type: 'dense', units: 256, batchNorm: true, activation: 'relu' });
      assert.deepEqual(config.model.layers.at(-1), { type: 'dense', units: 10, batchNorm: false, activation: 'linear' });
      assert.equal(stageSpecs(config, 4).length, layers, 'one stage per layer');
    }
  }
  assert.throws(() => mnistFcn(1, 'cdni'), /layers must be an integer of at least 2/);
});

test('mnistFcn synthesizers: DNI 2 hidden layers of 1024 with BatchNorm, cDNI linear; the 4-layer row is the mnist-* presets', () => {
  assert.deepEqual(validateConfig(mnistFcn(5, 'dni')).synthesizer, { hiddenLayers: [1024, 1024], batchNorm: true, kernelSize: 5 });
  assert.deepEqual(validateConfig(mnistFcn(5, 'cdni')).synthesizer, { hiddenLayers: [], batchNorm: false, kernelSize: 5 });
  for (const mode of fcnModes) {
    const preset = presets[`mnist-${mode}` as const];
    const { preset: _name, ...fcn } = mnistFcn(4, mode);
    assert.deepEqual(fcn, preset, `mnistFcn(4, '${mode}') is mnist-${mode}`);
  }
  // the function does not share (and so cannot change) the presets' objects
  const six = mnistFcn(6, 'cdni');
  six.model.layers[0] = { type: 'dense', units: 7 };
  assert.equal(presets['mnist-cdni'].model.layers[0].units, 256);
});

test('the synthesizers a stage builds from them: DNI 256-1024-1024-256, cDNI (256 + 10 label units)-256', () => {
  const expected = { dni: [[256, 1024], [1024, 1024], [1024, 256]], cdni: [[266, 256]] } as const;
  for (const mode of ['dni', 'cdni'] as const) {
    const spec = stageSpecs(validateConfig(mnistFcn(6, mode)), 4)[2];
    const synth = new Synthesizer({
      shape: spec.outputShape, conditioned: spec.mode === 'cdni', classes: spec.classes,
      hiddenLayers: spec.synthesizer.hiddenLayers, batchNorm: spec.synthesizer.batchNorm, kernelSize: spec.synthesizer.kernelSize,
      learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, rng: stream('t', 'synth'),
    });
    try {
      assert.deepEqual(synth.net.params.filter((p) => p.shape.length === 2).map((p) => p.shape), expected[mode], mode);
      assert.equal(synth.net.layers.filter((l) => l instanceof BatchNorm).length, mode === 'dni' ? 2 : 0, `${mode}: BatchNorm on the DNI synthesizer's hidden layers only`);
      assert.equal(synth.net.state.length > 0, mode === 'dni', 'running statistics only with BatchNorm');
    } finally {
      synth.dispose();
    }
  }
});

test('withBudget scales the step schedule: lr ÷10 at 1/2 and 3/4 of the steps; the full budget gives the preset back', () => {
  const cdni = mnistFcn(4, 'cdni');
  assert.deepEqual(withBudget(cdni, 8580, TRAIN), cdni, '20 epochs of 429 steps: unchanged');
  const oneEpoch = withBudget(cdni, 429, TRAIN);
  assert.deepEqual(oneEpoch.optimizer.decaySteps, [215, 322]);
  assert.equal(oneEpoch.train.epochs, 1);
  assert.equal(oneEpoch.train.maxSteps, undefined);
  const partial = withBudget(cdni, 1000, TRAIN);
  assert.deepEqual([partial.train.epochs, partial.train.maxSteps, partial.optimizer.decaySteps], [3, 1000, [500, 750]]);
  assert.deepEqual(budgetSchedule(partial, TRAIN), { steps: 1000, epochs: 3, batchSize: 128, learningRate: 1e-3, decaySteps: [500, 750], decayFactor: 0.1 });
  assert.deepEqual(withBudget(cdni, 1, TRAIN).optimizer.decaySteps, [], 'no decay inside a one-step budget');
  assert.throws(() => withBudget(cdni, 0, TRAIN), /budget must be a positive whole number of training steps, got 0/);
});

test('arguments: lists and budgets are checked, and errors name the flag and what was expected', () => {
  assert.deepEqual(parseLayers('3, 5,5', mnistFcnDepths), [3, 5]);
  assert.deepEqual(parseModes('cdni,backprop', fcnModes), ['cdni', 'backprop']);
  assert.deepEqual(parseProbabilities('1,0.5,0.05'), [1, 0.5, 0.05]);
  assert.equal(parseBudget('429'), 429);
  const rejects = (f: () => unknown, message: RegExp) => assert.throws(f, (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message));
  rejects(() => parseLayers('4,7', mnistFcnDepths), /^--layers: expected a comma-separated list of 3, 4, 5, 6, got "7"$/);
  rejects(() => parseLayers('4,', mnistFcnDepths), /^--layers: expected .*, got "4,"$/);
  rejects(() => parseModes('dni,sgd', ['dni', 'cdni']), /^--modes: expected a comma-separated list of dni, cdni, got "sgd"$/);
  rejects(() => parseProbabilities('0.5,0'), /^--p: expected .*probabilities in \(0, 1\].*, got "0"$/);
  rejects(() => parseProbabilities('1.5'), /got "1.5"/);
  for (const bad of ['0', '-3', '2.5', '1e3', 'ten']) rejects(() => parseBudget(bad), new RegExp(`^--budget: expected a positive whole number of training steps.*got "${bad}"$`));
});
