import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCifar } from './helpers/cifar-files.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withCifar(fn: (dir: string, data: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-cifar-train-'));
  try {
    const data = join(dir, 'cifar');
    mkdirSync(data);
    writeCifar(data); // 150 training and 30 test images
    fn(dir, data);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('--data with CIFAR-10 files trains the cifar-cnn-cdni preset (a few steps, lockstep)', () => {
  withCifar((dir, data) => {
    const config = join(dir, 'tiny.json');
    const train = { epochs: 1, maxSteps: 2, batchSize: 8, validationSize: 10, evalBatchSize: 40, schedule: 'lockstep' };
    writeFileSync(config, JSON.stringify({ preset: 'cifar-cnn-cdni', backend: 'wasm', train }));
    const out = join(dir, 'run');
    const r = run(['train', '--config', config, '--data', data, '--out', out, '--no-progress', '--log-level', 'warn']);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.steps, 2);
    assert.equal(summary.stages, 3);
    assert.ok(summary.testAccuracy >= 0 && summary.testAccuracy <= 1);
    assert.match(summary.perStage[0].layers[0], /^0: conv2d 32x32x3->32x32x128 batchnorm\+relu$/);
    assert.equal(summary.perStage[0].updates, 2);
    assert.ok(Number.isFinite(summary.perStage[1].synthesizerLoss), 'stage 1 trained its convolutional synthesizer');
  });
});

test('a model whose input does not fit the data in --data is refused, naming the folder and the shapes', () => {
  withCifar((dir, data) => {
    const config = join(dir, 'mnist-cnn.json');
    writeFileSync(config, JSON.stringify({ preset: 'mnist-cnn-cdni', train: { validationSize: 10 } }));
    const out = join(dir, 'run');
    const r = run(['train', '--config', config, '--data', data, '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${data}: holds 32x32x3 images, but the model's input is \\[28, 28, 1\\]; expected model\\.inputShape \\[32, 32, 3\\]`));
    assert.equal(existsSync(out), false);
  });
});

test('a --data folder with neither MNIST nor CIFAR-10 files says what was expected', () => {
  withCifar((dir) => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const r = run(['train', '--data', empty, '--out', join(dir, 'run')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /empty: holds neither MNIST nor CIFAR-10: expected the MNIST IDX files train-images-idx3-ubyte.* or the CIFAR-10 binary files data_batch_1\.bin/);
  });
});
