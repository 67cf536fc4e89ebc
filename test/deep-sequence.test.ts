import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveSequenceConfig, type SequenceConfig } from '../src/sequence/config.js';
import { runSequence } from '../src/sequence/run.js';
import { deepPipelineConfig } from '../src/sequence/deep-run.js';
import { decodeStageState } from '../src/stage/stage-state.js';
import { train } from '../src/train.js';
import { ConfigError } from '../src/config/errors.js';
import { withTempDir } from './helpers/temp-dir.js';
import { metricsWithoutTimes, waitForText } from './helpers/run-files.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const metrics = metricsWithoutTimes;

/** Every stage's checkpointed weights (the carried state among them) and optimizer state. */
function states(run: string): unknown[] {
  const manifest = JSON.parse(readFileSync(join(run, 'checkpoint', 'manifest.json'), 'utf8')) as { stages: { file: string }[] };
  return manifest.stages.map((s) => {
    const state = decodeStageState(readFileSync(join(run, 'checkpoint', s.file)), s.file);
    return [state.weights, state.optimizer, state.synthesizer];
  });
}

function textFile(dir: string): string {
  const text = join(dir, 'text.txt');
  writeFileSync(text, 'the quick brown fox jumps over the lazy dog, and the dog sleeps on. '.repeat(60));
  return text;
}

/** A 3-layer LSTM char model, one layer per stage: small sizes, few windows, seeded. */
const deep = (text: string, over: Record<string, unknown> = {}, preset = 'charlm3-dni'): SequenceConfig =>
  resolveSequenceConfig(preset, { units: 8, batch: 4, window: 3, maxSteps: 12, logEvery: 3, synthesizer: { hiddenLayers: [8] }, charLm: { data: text, evalChars: 0 }, ...over });

describe('a deep LSTM, one stage per layer, through the pipeline', () => {
  it('the pipeline config: one LSTM stage per layer, the readout with the last, time synthesizers only in dni', () => {
    const c = deepPipelineConfig(deep('x'), 30);
    assert.deepEqual(c.stages, [[0], [1], [2, 3]]);
    assert.equal(c.mode, 'dni');
    assert.deepEqual(c.model.layers[0], { type: 'lstm', units: 8, streams: 4, timeSynthesizer: { hiddenLayers: [8], activation: 'relu', discount: 0.5 } });
    const tanh = deepPipelineConfig(deep('x', { synthesizer: { hiddenLayers: [8], activation: 'tanh' } }), 30);
    assert.deepEqual(tanh.model.layers[0], { type: 'lstm', units: 8, streams: 4, timeSynthesizer: { hiddenLayers: [8], activation: 'tanh', discount: 0.5 } });
    assert.equal(c.train.batchSize, 12, 'a batch is a window: T·B rows');
    const bptt = deepPipelineConfig(resolveSequenceConfig('charlm3-bptt', { charLm: { data: 'x' } }), 30);
    assert.equal(bptt.mode, 'backprop');
    assert.equal((bptt.model.layers[0] as { timeSynthesizer: unknown }).timeSynthesizer, null);
  });

  it('lockstep with cDNI in depth (charlm3-cdni): two runs are bit-identical', async () => {
    await withTempDir('deep-lockstep-cdni', async (dir) => {
      const config = deep(textFile(dir), {}, 'charlm3-cdni');
      const a = await runSequence(config, null, join(dir, 'a'));
      const b = await runSequence(config, null, join(dir, 'b'));
      assert.deepEqual(a.deep, { depth: 'cdni', schedule: 'lockstep', transport: 'threads' });
      assert.deepEqual(metrics(join(dir, 'b')), metrics(join(dir, 'a')));
      assert.deepEqual(states(join(dir, 'b')), states(join(dir, 'a')));
      assert.deepEqual(b.bpc, a.bpc);
    });
  });

  it('lockstep (threads): two runs are bit-identical; the same run over NATS processes too', async () => {
    await withTempDir('deep-lockstep', async (dir) => {
      const config = deep(textFile(dir));
      const a = await runSequence(config, null, join(dir, 'a'));
      const b = await runSequence(config, null, join(dir, 'b'));
      assert.equal(a.steps, 12);
      assert.equal(a.layers, 3);
      assert.deepEqual(a.deep, { depth: 'dni', schedule: 'lockstep', transport: 'threads' });
      assert.equal(metrics(join(dir, 'a')).length, 4);
      assert.deepEqual(metrics(join(dir, 'b')), metrics(join(dir, 'a')));
      assert.deepEqual(states(join(dir, 'b')), states(join(dir, 'a')));
      assert.deepEqual(b.bpc, a.bpc);
      assert.ok(a.bpc!.test > 0 && a.bpc!.test < 8, `test bpc ${a.bpc!.test}`);
      const nats = await runSequence({ ...config, transport: 'nats' }, null, join(dir, 'nats'));
      assert.deepEqual(metrics(join(dir, 'nats')), metrics(join(dir, 'a')));
      assert.deepEqual(states(join(dir, 'nats')), states(join(dir, 'a')));
      assert.deepEqual(nats.bpc, a.bpc);
    });
  });

  it('async: windows in flight at once, it trains (the training loss falls)', async () => {
    await withTempDir('deep-async', async (dir) => {
      const config = deep(textFile(dir), { schedule: 'async', maxSteps: 60, logEvery: 20, learningRate: 0.01 });
      const s = await runSequence(config, null, join(dir, 'async'));
      assert.equal(s.steps, 60);
      assert.deepEqual(s.deep, { depth: 'dni', schedule: 'async', transport: 'threads' });
      const lines = metrics(join(dir, 'async'));
      assert.equal(lines.length, 3);
      const first = lines[0].trainBpc as number;
      const last = lines[2].trainBpc as number;
      assert.ok(last < first - 0.3, `train bpc ${first} -> ${last}`);
      assert.ok(Number.isFinite(s.bpc!.test));
    });
  });

  it('async with cDNI in depth (charlm3-cdni-async): it learns more than the characters\' frequencies', async () => {
    await withTempDir('deep-cdni-async', async (dir) => {
      const text = textFile(dir);
      const config = resolveSequenceConfig('charlm3-cdni-async', { units: 16, batch: 4, window: 3, maxSteps: 400, logEvery: 100, learningRate: 0.01, charLm: { data: text, evalChars: 0 } });
      const s = await runSequence(config, 'charlm3-cdni-async', join(dir, 'async'));
      assert.deepEqual(s.deep, { depth: 'cdni', schedule: 'async', transport: 'threads' });
      // the entropy of the text's characters: what a model that knows only their frequencies reaches
      const counts = new Map<string, number>();
      const chars = readFileSync(text, 'utf8');
      for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
      const unigram = -[...counts.values()].reduce((h, n) => h + (n / chars.length) * Math.log2(n / chars.length), 0);
      const last = metrics(join(dir, 'async')).at(-1)!.trainBpc as number;
      assert.ok(last < unigram - 1, `train bpc ${last} against the characters' entropy ${unigram.toFixed(3)}`);
    });
  });

  it('SIGINT, then --resume: the lockstep run ends bit-identical to an uninterrupted one', async () => {
    await withTempDir('deep-sigint', async (dir) => {
      const text = textFile(dir);
      const args = ['sequence', '--preset', 'charlm3-dni', '--units', '8', '--batch-size', '4', '--window', '3', '--max-steps', '200', '--log-every', '5', '--synthesizer-layers', '8', '--data', text, '--eval-chars', '0'];
      const whole = spawnSync(process.execPath, [cli, ...args, '--out', join(dir, 'whole')], { encoding: 'utf8', timeout: 300_000 });
      assert.equal(whole.status, 0, whole.stderr);
      const runDir = join(dir, 'run');
      const child = spawn(process.execPath, [cli, ...args, '--out', runDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      await waitForText(join(runDir, 'metrics.jsonl'), '"step"', () => stderr);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 130, stderr);
      const stopped = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
      assert.equal(stopped.stopped, true);
      assert.ok(stopped.steps > 0 && stopped.steps < 200, `stopped at ${stopped.steps}`);
      const resumed = spawnSync(process.execPath, [cli, 'sequence', '--resume', runDir], { encoding: 'utf8', timeout: 300_000 });
      assert.equal(resumed.status, 0, resumed.stderr);
      const finished = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
      assert.equal(finished.steps, 200);
      assert.equal(finished.stopped, false);
      assert.deepEqual(metrics(runDir), metrics(join(dir, 'whole')));
      assert.deepEqual(states(runDir), states(join(dir, 'whole')));
      assert.deepEqual(finished.bpc, JSON.parse(readFileSync(join(dir, 'whole', 'summary.json'), 'utf8')).bpc);
    });
  });

  it('what a deep model cannot do is refused with the field named', async () => {
    assert.throws(() => resolveSequenceConfig('charlm3-dni', { task: 'copy' }), /layers: several layers train the char-lm task only/);
    assert.throws(() => resolveSequenceConfig('charlm3-dni', { mode: 'dni+aux' }), /mode: several layers take mode bptt or dni/);
    assert.throws(() => resolveSequenceConfig('charlm-dni', { schedule: 'async' }), /one layer runs in one worker/);
    const lstmConfig = deepPipelineConfig(deep('x'), 30);
    await assert.rejects(train(lstmConfig), (e: unknown) => e instanceof ConfigError && /model.layers.0: lstm layers train on windows of character streams/.test((e as Error).message));
  });
});
