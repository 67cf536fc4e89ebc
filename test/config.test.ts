import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, validateConfig, mergeConfig } from '../src/config/resolve.js';
import { presets, presetNames } from '../src/config/presets.js';
import { problems } from './helpers/config-error.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { learningRateAt } from '../src/stage/learning-rate.js';

test('every preset is a valid config', () => {
  for (const name of presetNames) {
    const config = validateConfig(presets[name], name);
    assert.equal(config.preset, undefined, 'a preset object carries no name: a config spread from it is a custom one');
    assert.equal(resolveConfig({ preset: name }).preset, name);
    assert.equal(stageSpecs(config, 1).length, config.stages?.length ?? 4);
  }
  assert.equal(validateConfig(presets['mnist-cdni-stochastic']).train.updateProbability, 0.2);
});

test('flags override a preset; the default preset is mnist-cdni', () => {
  const config = resolveConfig({ overrides: { train: { epochs: 3 }, optimizer: { learningRate: 0.01 } } });
  assert.equal(config.preset, 'mnist-cdni');
  assert.equal(config.mode, 'cdni');
  assert.equal(config.train.epochs, 3);
  assert.equal(config.optimizer.learningRate, 0.01);
  assert.equal(config.train.batchSize, presets['mnist-cdni'].train.batchSize);
});

test('mergeConfig replaces arrays and skips undefined', () => {
  assert.deepEqual(mergeConfig({ a: { b: [1, 2], c: 1 } }, { a: { b: [3], c: undefined } }), { a: { b: [3], c: 1 } });
});

test('bad values are named field by field', () => {
  const message = problems(() =>
    resolveConfig({ overrides: { optimizer: { learningRate: -1 }, train: { batchSize: 0 }, colour: 'red' } }),
  );
  assert.match(message, /optimizer\.learningRate: .*>0/);
  assert.match(message, /train\.batchSize: .*>0/);
  assert.match(message, /colour: unknown field/);
});

test('an unknown mode, backend or preset lists what is allowed', () => {
  assert.match(problems(() => resolveConfig({ overrides: { mode: 'magic' } })), /mode: .*"backprop"/);
  assert.match(problems(() => resolveConfig({ preset: 'mnist-nope' })), /unknown preset "mnist-nope"; choose one of mnist-cdni/);
});

test('a stage grouping must cover every layer once, in order', () => {
  assert.match(problems(() => resolveConfig({ overrides: { stages: [[0], [2], [3]] } })), /stages: .*0\.\.3/);
  assert.match(problems(() => resolveConfig({ overrides: { stages: [[1, 0], [2, 3]] } })), /stages:/);
  const ok = resolveConfig({ overrides: { stages: [[0, 1], [2, 3]] } });
  const specs = stageSpecs(ok, 1);
  assert.deepEqual(specs.map((s) => [s.firstLayer, s.inputUnits, s.layers.length]), [[0, 784, 2], [2, 256, 2]]);
});

test('the output layer must produce the logits', () => {
  const layers = [{ type: 'dense', units: 32 }, { type: 'dense', units: 7, activation: 'linear' }];
  assert.match(problems(() => resolveConfig({ overrides: { model: { layers } } })), /model\.layers\[1\]\.units: .*10/);
});

test('backprop refuses stochastic updates', () => {
  assert.match(
    problems(() => resolveConfig({ preset: 'mnist-backprop', overrides: { train: { updateProbability: 0.5 } } })),
    /train\.updateProbability: backprop/,
  );
});

test('config files: unreadable, not JSON, and a preset base', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-config-'));
  try {
    assert.match(problems(() => resolveConfig({ file: join(dir, 'missing.json') })), /missing\.json.*cannot read/s);
    writeFileSync(join(dir, 'bad.json'), '{ "mode": ');
    assert.match(problems(() => resolveConfig({ file: join(dir, 'bad.json') })), /bad\.json.*not valid JSON/s);
    writeFileSync(join(dir, 'ok.json'), JSON.stringify({ preset: 'mnist-backprop', train: { epochs: 2 } }));
    const config = resolveConfig({ file: join(dir, 'ok.json') });
    assert.equal(config.mode, 'backprop');
    assert.equal(config.train.epochs, 2);
    writeFileSync(join(dir, 'neg.json'), JSON.stringify({ preset: 'mnist-dni', optimizer: { learningRate: -3 } }));
    assert.match(problems(() => resolveConfig({ file: join(dir, 'neg.json') })), /neg\.json\):\n.*optimizer\.learningRate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a config file without "preset" starts from the default preset, unnamed; missing fields are called missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-config-'));
  try {
    writeFileSync(join(dir, 'short.json'), JSON.stringify({ train: { epochs: 2 } }));
    const config = resolveConfig({ file: join(dir, 'short.json') });
    assert.equal(config.mode, presets['mnist-cdni'].mode);
    assert.deepEqual(config.model.layers.map((l) => l.type), presets['mnist-cdni'].model.layers.map((l) => l.type));
    assert.equal(config.train.epochs, 2);
    assert.equal(config.train.batchSize, presets['mnist-cdni'].train.batchSize);
    assert.equal(config.preset, undefined, 'a custom config does not take the default preset\'s name');
    const message = problems(() => validateConfig({ model: { classes: 10, layers: [{ type: 'dense', units: 10, activation: 'linear' }] }, train: {} }, 'mine.json'));
    assert.match(message, /mine\.json/);
    assert.match(message, /^\s+- mode: missing \(expected one of "backprop", "dni", "cdni", "fa", "dfa", "bp-lambda", "kickback"\)$/m);
    assert.match(message, /^\s+- optimizer: missing \(expected object\)$/m);
    assert.match(message, /^\s+- train\.epochs: missing \(expected number\)$/m);
    assert.doesNotMatch(message, /received undefined/);
    assert.match(problems(() => validateConfig({ ...presets['mnist-cdni'], mode: 'magic' })), /mode: Invalid option/, 'a wrong value is not called missing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the step schedule decays the learning rate at each boundary', () => {
  assert.equal(learningRateAt(0, 1e-3, [10, 20], 0.1), 1e-3);
  assert.equal(learningRateAt(10, 1e-3, [10, 20], 0.1), 1e-3 * 0.1);
  assert.ok(Math.abs(learningRateAt(25, 1e-3, [10, 20], 0.1) - 1e-5) < 1e-12);
});
