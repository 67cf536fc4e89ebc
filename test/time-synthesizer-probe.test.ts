import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveSequenceConfig, type SequenceConfig } from '../src/sequence/config.js';
import { readSequenceCheckpoint, runSequence } from '../src/sequence/run.js';
import { probeTimeSynthesizer } from '../src/sequence/probe.js';
import { buildSequenceRun } from '../src/sequence/build.js';
import { selectBackend } from '../src/runtime/backend.js';
import type { SavedTrainer } from '../src/sequence/trainer.js';
import { withTempDir } from './helpers/temp-dir.js';

const small = (over: Record<string, unknown>): SequenceConfig =>
  resolveSequenceConfig(undefined, { units: 8, batch: 4, maxSteps: 9, logEvery: 3, synthesizer: { hiddenLayers: [8] }, ...over });

const script = fileURLToPath(new URL('../scripts/time-synthesizer-probe.js', import.meta.url));
const spawn = (args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 120_000 });

/** A finished one-layer run in `dir`, and its trainer's checkpoint. */
async function finishedRun(dir: string, config: SequenceConfig): Promise<SavedTrainer> {
  await runSequence(config, null, dir);
  return readSequenceCheckpoint(dir).checkpoint.trainer as SavedTrainer;
}

describe('the time synthesizer probe', () => {
  it('trains a fresh M on a frozen network (its LSTM unchanged, bit for bit) or on one that learns', async () => {
    await withTempDir('probe', async (dir) => {
      const config = small({ task: 'copy', mode: 'bptt', copy: { bits: 2 } });
      const saved = await finishedRun(join(dir, 'run'), config);
      await selectBackend(config.backend);
      const options = { windows: 7, every: 3, synthesizer: { ...config.synthesizer, learningRate: 0.01 }, length: 5 };
      const frozen = probeTimeSynthesizer(config, saved, { ...options, lstmLearningRate: 0 });
      assert.equal(frozen.lstmDrift, 0);
      assert.deepEqual(
        frozen.rows.map((r) => r.windows),
        [3, 6, 7],
      );
      // the first window has no target yet; every row after it has M's figures
      for (const r of frozen.rows) {
        assert.ok(Number.isFinite(r.cosine) && Math.abs(r.cosine) <= 1 && r.synthesizerLoss >= 0 && r.loss > 0, JSON.stringify(r));
        assert.equal(r.length, 5);
      }
      assert.ok(frozen.rows.some((r) => r.synthesizerLoss > 0));
      const learning = probeTimeSynthesizer(config, saved, { ...options, lstmLearningRate: 0.01 });
      assert.ok(learning.lstmDrift > 0);
      // the same seed, checkpoint and settings: the same figures
      assert.deepEqual(probeTimeSynthesizer(config, saved, { ...options, lstmLearningRate: 0 }), frozen);
    });
  });

  it('takes char-lm runs, and refuses a deep run, a length for char-lm and a checkpoint of another shape', async () => {
    await withTempDir('probe-lm', async (dir) => {
      const text = join(dir, 'text.txt');
      writeFileSync(text, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
      const config = small({ task: 'char-lm', mode: 'dni', charLm: { data: text, evalChars: 0 } });
      const saved = await finishedRun(join(dir, 'run'), config);
      await selectBackend(config.backend);
      const options = { windows: 4, every: 2, lstmLearningRate: 0, synthesizer: config.synthesizer, length: null };
      const result = probeTimeSynthesizer(config, saved, options);
      assert.equal(result.rows.length, 2);
      assert.ok(result.rows.every((r) => r.length === null && r.error === null));
      assert.throws(() => probeTimeSynthesizer(config, saved, { ...options, length: 3 }), /length is for the copy tasks/);
      assert.throws(() => probeTimeSynthesizer({ ...config, layers: 3 }, saved, options), /one-layer runs; this run has 3 layers/);
      assert.throws(() => probeTimeSynthesizer(config, saved, { ...options, every: 0 }), /every must be a positive integer/);
      const { trainer } = buildSequenceRun({ ...config, units: 6 });
      try {
        assert.throws(() => trainer.importNetwork(saved), /its LSTM does not have this run's shape \(6 units/);
      } finally {
        trainer.dispose();
      }
    });
  });

  it('the script prints the table, and refuses a run that is not there or a bad flag', async () => {
    await withTempDir('probe-script', async (dir) => {
      const run = join(dir, 'run');
      await finishedRun(run, small({ task: 'copy', mode: 'dni', copy: { bits: 2 } }));
      const r = spawn(['--run', run, '--windows', '6', '--every', '3', '--synthesizer-layers', '']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /M: linear, .*LSTM learning rate 0 \(frozen\); largest change of an LSTM weight 0\.00e\+0/);
      assert.match(r.stdout, /\| windows \| M cosine \| M loss \| window loss \| length \| error \(bits\/sequence\) \|/);
      assert.equal(r.stdout.trim().split('\n').filter((l) => /^\| [36] \|/.test(l)).length, 2);
      const missing = spawn(['--run', join(dir, 'nowhere')]);
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /nowhere/);
      const negative = spawn(['--run', run, '--lstm-lr', '-1']);
      assert.notEqual(negative.status, 0);
      assert.match(negative.stderr, /--lstm-lr.*expected a learning rate of 0 or more/);
    });
  });
});
