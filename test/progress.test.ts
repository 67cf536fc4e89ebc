import { test } from 'node:test';
import assert from 'node:assert/strict';
import { train, presets, type Progress } from '../src/index.js';
import { progressLine } from '../src/cli/progress.js';
import { data } from './helpers/fixtures.js';
import { withTempDir } from './helpers/temp-dir.js';

test('progress: a run that --max-steps ends inside its first epoch reports epoch 1/1, with the running training accuracy', () =>
  withTempDir('synthgrad-progress', async (dir) => {
    const seen: Progress[] = [];
    const preset = presets['mnist-backprop'];
    // 20 epochs of 1718 steps asked for, 40 steps allowed
    await train({ ...preset, train: { ...preset.train, schedule: 'lockstep', batchSize: 32, maxSteps: 40 }, out: dir }, { data: data(), onProgress: (p) => seen.push(p) });
    assert.ok(seen.length >= 4, `${seen.length} progress reports`);
    for (const p of seen) {
      assert.equal(p.epochs, 1, 'the run ends in epoch 1, not train.epochs');
      assert.equal(p.totalSteps, 40);
      assert.ok(p.accuracy !== null && p.accuracy >= 0 && p.accuracy <= 1, `accuracy ${p.accuracy}`);
    }
    const last = seen.at(-1)!;
    assert.equal(last.phase, 'evaluate');
    assert.equal(last.step, 40);
    assert.ok(last.accuracy! > 0.3, `training accuracy after 40 steps: ${last.accuracy}`);
  }));

test('progressLine shows the epoch out of the last one, running loss and accuracy, elapsed time and time left', () => {
  const p: Progress = { phase: 'train', epoch: 2, epochs: 3, step: 900, totalSteps: 1000, loss: 0.1234, accuracy: 0.9567, samplesPerSecond: 1234.4, trainSeconds: 50 };
  const line = progressLine(p, { bar: '###---', elapsed: '01m05s', eta: '08s' });
  assert.equal(line, 'epoch 2/3 |###---| 900/1000 steps  loss 0.1234  acc 0.9567  1234 samples/s  01m05s elapsed, 08s left');
  const evaluating = progressLine({ ...p, phase: 'evaluate', loss: null, accuracy: null }, { bar: '', elapsed: '1s', eta: null });
  assert.match(evaluating, /loss -  acc - .* 1s elapsed, \? left  \(evaluating\)$/);
});
