import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveSequenceConfig, type SequenceConfig } from '../src/sequence/config.js';
import { resumeSequence, runSequence } from '../src/sequence/run.js';
import { ConfigError } from '../src/config/errors.js';
import { readRun, ReportError } from '../src/lab/report/read-run.js';
import { withTempDir } from './helpers/temp-dir.js';
import { metricsWithoutTimes } from './helpers/run-files.js';

const metrics = metricsWithoutTimes;

const small = (over: Record<string, unknown>): SequenceConfig =>
  resolveSequenceConfig(undefined, { units: 8, batch: 4, maxSteps: 12, logEvery: 3, synthesizer: { hiddenLayers: [8] }, ...over });

describe('sequence runs in their own worker', () => {
  it('the same seed gives identical metrics and figures (repeat copy, dni+aux)', async () => {
    await withTempDir('seq-run', async (dir) => {
      const config = small({ task: 'repeat-copy', mode: 'dni+aux', copy: { bits: 2 } });
      const a = await runSequence(config, null, join(dir, 'a'));
      const b = await runSequence(config, null, join(dir, 'b'));
      assert.deepEqual(metrics(join(dir, 'b')), metrics(join(dir, 'a')));
      assert.equal(metrics(join(dir, 'a')).length, 4);
      assert.deepEqual(b.figures, a.figures);
      assert.equal(a.steps, 12);
      assert.equal(a.timeSteps, 36);
      assert.equal(typeof a.solved, 'number');
      const summary = JSON.parse(readFileSync(join(dir, 'a', 'summary.json'), 'utf8'));
      assert.equal(summary.mode, 'dni+aux');
      assert.ok(metrics(join(dir, 'a')).every((m) => typeof m.synthesizerCosine === 'number' && typeof m.auxLoss === 'number'));
      // the report says it does not draw sequence runs, instead of drawing an empty page
      assert.throws(() => readRun(join(dir, 'a')), (e: unknown) => e instanceof ReportError && /is a sequence run/.test((e as Error).message));
    });
  });

  it('a stopped run resumed from its checkpoint ends as the uninterrupted run does, bit for bit (char-lm, dni, --data)', async () => {
    await withTempDir('seq-resume', async (dir) => {
      const text = join(dir, 'text.txt');
      writeFileSync(text, 'the quick brown fox jumps over the lazy dog. '.repeat(60));
      const config = small({ task: 'char-lm', mode: 'dni', charLm: { data: text, evalChars: 0 } });
      const straight = await runSequence(config, null, join(dir, 'straight'));
      const first = await runSequence(config, null, join(dir, 'resumed'), { stopAfter: 5 });
      assert.equal(first.stopped, true);
      assert.equal(first.bpc, null);
      const resumed = await resumeSequence(join(dir, 'resumed'));
      assert.equal(resumed.stopped, false);
      assert.equal(resumed.steps, 12);
      assert.deepEqual(metrics(join(dir, 'resumed')), metrics(join(dir, 'straight')));
      assert.deepEqual(resumed.bpc, straight.bpc);
      assert.ok(straight.bpc!.test > 0 && straight.bpc!.test < 8, `test bpc ${straight.bpc!.test}`);
      assert.equal(straight.vocabulary, 1 + new Set('the quick brown fox jumps over the lazy dog. ').size);
    });
  });

  it('a conditioned run stopped and resumed ends as the uninterrupted run does, bit for bit (copy, dni)', async () => {
    await withTempDir('seq-resume-cond', async (dir) => {
      const config = small({ task: 'copy', mode: 'dni', copy: { bits: 2 }, synthesizer: { hiddenLayers: [8], conditioned: true } });
      await runSequence(config, null, join(dir, 'straight'));
      const first = await runSequence(config, null, join(dir, 'resumed'), { stopAfter: 5 });
      assert.equal(first.stopped, true);
      const resumed = await resumeSequence(join(dir, 'resumed'));
      assert.equal(resumed.steps, 12);
      assert.deepEqual(metrics(join(dir, 'resumed')), metrics(join(dir, 'straight')));
      assert.ok(metrics(join(dir, 'straight')).some((m) => typeof m.synthesizerCosine === 'number'));
    });
  });

  it('bad settings are refused with the field named', () => {
    assert.throws(() => resolveSequenceConfig('copy-nope', {}), (e: unknown) => e instanceof ConfigError && /unknown sequence preset 'copy-nope'/.test((e as Error).message));
    assert.throws(() => resolveSequenceConfig('copy-dni-aux', { synthesizer: { hiddenLayers: [] } }), /synthesizer.hiddenLayers: dni\+aux needs a hidden layer/);
    assert.throws(() => resolveSequenceConfig(undefined, { window: 0 }), /window/);
    assert.throws(() => resolveSequenceConfig('copy-bptt', { synthesizer: { conditioned: true } }), /synthesizer.conditioned: a conditioned time synthesizer needs mode dni or dni\+aux and one layer/);
    assert.throws(() => resolveSequenceConfig('charlm3-dni', { synthesizer: { conditioned: true } }), /synthesizer.conditioned: .*one layer/);
    assert.throws(() => resolveSequenceConfig('copy-bptt', { synthesizer: { replay: 4 } }), /synthesizer.replay: replay needs a time synthesizer \(mode dni or dni\+aux\) and one layer/);
    assert.throws(() => resolveSequenceConfig('charlm3-dni', { synthesizer: { replay: 4 } }), /synthesizer.replay: .*one layer/);
    assert.throws(() => resolveSequenceConfig('copy-dni', { synthesizer: { replay: 0 } }), /synthesizer.replay/);
    assert.equal(resolveSequenceConfig('copy-dni', { synthesizer: { replay: 4 } }).synthesizer.replay, 4);
    assert.throws(() => resolveSequenceConfig('copy-dni', { synthesizer: { activation: 'sigmoid' } }), /synthesizer.activation/);
    assert.equal(resolveSequenceConfig('copy-dni', {}).synthesizer.activation, 'relu');
    assert.throws(() => resolveSequenceConfig('copy-bptt', { synthesizer: { cell: 'tanh' } }), /synthesizer.cell: cell 'tanh' is for one layer's time synthesizer/);
    assert.throws(() => resolveSequenceConfig('charlm3-dni', { synthesizer: { cell: 'tanh' } }), /synthesizer.cell/);
    assert.equal(resolveSequenceConfig('charlm-dni', { synthesizer: { cell: 'tanh' } }).synthesizer.cell, 'tanh');
  });
});
