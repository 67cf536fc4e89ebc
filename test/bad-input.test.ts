import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { idx, writeMiniMnist } from './helpers/idx-files.js';
import { snapshot } from './helpers/tree.js';
import { decodeStageState } from '../src/stage/stage-state.js';
import { cannotMount, remountReadOnly, withTmpfs } from './helpers/mounts.js';
import { testNeeding } from './helpers/needs.js';
import { waitForText } from './helpers/run-files.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI in a fresh folder; checks exit 2, the message, and that no file in the folder changed. */
function refused(prepare: (dir: string) => string[], message: RegExp, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-bad-'));
  try {
    const args = prepare(dir);
    const before = snapshot(dir);
    const r = run(args, env);
    assert.equal(r.code, 2, `exit code ${r.code}; stderr: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length <= 6, true, `a short message, got:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace for a user error');
    assert.deepEqual(snapshot(dir), before, 'no file was created or changed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const small = ['--max-steps', '2', '--batch-size', '16'];

function miniData(dir: string, edit?: (data: string) => void): string {
  const data = join(dir, 'data');
  mkdirSync(data);
  writeMiniMnist(data);
  edit?.(data);
  return data;
}

test('bad IDX files are named with what was expected', () => {
  refused((d) => ['train', '--data', miniData(d, (data) => truncateSync(join(data, 'train-images-idx3-ubyte'), 5000)), '--out', join(d, 'run'), ...small], /train-images-idx3-ubyte: truncated/);
  refused((d) => ['train', '--data', miniData(d, (data) => writeFileSync(join(data, 't10k-labels-idx1-ubyte'), idx([100, 1], new Uint8Array(100)))), '--out', join(d, 'run'), ...small], /t10k-labels-idx1-ubyte: expected magic number 0x00000801/);
  refused((d) => ['train', '--data', miniData(d, (data) => writeFileSync(join(data, 'train-labels-idx1-ubyte'), idx([299], new Uint8Array(299)))), '--out', join(d, 'run'), ...small], /300.*299|299.*300/);
  refused((d) => ['train', '--data', miniData(d, (data) => writeFileSync(join(data, 'train-labels-idx1-ubyte'), idx([300], new Uint8Array(300).fill(12)))), '--out', join(d, 'run'), ...small], /train-labels-idx1-ubyte.*12/);
  refused((d) => {
    const data = miniData(d, (data) => {
      rmSync(join(data, 'train-images-idx3-ubyte'));
      writeFileSync(join(data, 'train-images-idx3-ubyte.gz'), 'not gzip at all');
    });
    return ['train', '--data', data, '--out', join(d, 'run'), ...small];
  }, /train-images-idx3-ubyte\.gz/);
});

test('bad configs name the field', () => {
  const config = (d: string, value: unknown) => {
    writeFileSync(join(d, 'c.json'), JSON.stringify(value));
    return ['train', '--config', join(d, 'c.json'), '--out', join(d, 'run')];
  };
  refused((d) => config(d, { preset: 'mnist-cdni', train: { epochs: 1, batchSize: 8, shuffle: true } }), /c\.json[\s\S]*train\.shuffle: unknown field/);
  refused((d) => config(d, { preset: 'mnist-cdni', optimizer: { learningRate: -0.001 } }), /optimizer\.learningRate/);
  refused((d) => config(d, { preset: 'mnist-cdni', train: { epochs: 1, batchSize: 0 } }), /train\.batchSize/);
  refused((d) => config(d, { preset: 'mnist-cdni', stages: [[0], [1], [3]] }), /stages: .*0\.\.3/);
  refused((d) => ['train', '--lr', '-1', '--out', join(d, 'run')], /optimizer\.learningRate/);
  refused(() => ['train', '--max-steps', '1'], /SYNTHGRAD_FAULT/, { SYNTHGRAD_FAULT: 'stage=two' });
});

test('an --out that is a foreign non-empty folder, or cannot be made, is refused', () => {
  refused((d) => {
    writeFileSync(join(d, 'notes.txt'), 'mine');
    return ['train', '--out', d, ...small];
  }, /is not empty/);
  refused((d) => {
    writeFileSync(join(d, 'file'), 'x');
    return ['train', '--out', join(d, 'file', 'run'), ...small];
  }, /cannot create the directory/);
});

test('an impossible batch size is refused before any folder is made', () => {
  refused((d) => ['train', '--batch-size', '55001', '--out', join(d, 'run')], /train\.batchSize: 55001 is larger than the training set \(55000 examples\)/);
});

testNeeding(process.platform === 'linux' ? null : `/proc is missing: this is ${process.platform}, not Linux`, 'an --out under a file system that refuses new entries (/proc) is refused at once, not hung on', {}, () => {
  refused(() => ['train', '--out', '/proc/synthgrad-no-such-run', ...small], /\/proc\/synthgrad-no-such-run: cannot create the directory/);
});

testNeeding(cannotMount(), 'an --out on a read-only file system is refused before anything is written', {}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-ro-'));
  try {
    await withTmpfs(join(dir, 'fs'), '1m', (fs) => {
      mkdirSync(join(fs, 'run'));
      remountReadOnly(fs);
      refused(() => ['train', '--out', join(fs, 'run'), ...small], /run: cannot create the directory or write in it: .*EROFS/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--resume refuses a damaged stage checkpoint (size from the manifest, then its contents) before touching the run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-damaged-'));
  try {
    const runDir = join(dir, 'run');
    const r = run(['train', '--preset', 'mnist-backprop', '--schedule', 'lockstep', '--max-steps', '3', '--batch-size', '16', '--out', runDir]);
    assert.equal(r.code, 0, r.stderr);
    const manifest = JSON.parse(readFileSync(join(runDir, 'checkpoint', 'manifest.json'), 'utf8'));
    const stageFile = join(runDir, 'checkpoint', manifest.stages[1].file);
    const good = readFileSync(stageFile);
    truncateSync(stageFile, good.length - 10);
    refused(() => ['train', '--resume', runDir], new RegExp(`stage-1\\.msgpack: is ${good.length - 10} bytes, the manifest says ${good.length}`));
    writeFileSync(stageFile, Buffer.alloc(good.length, 0xc1)); // the right size, but not msgpack
    refused(() => ['train', '--resume', runDir], /stage-1\.msgpack: not a synthgrad stage checkpoint/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--resume refuses a folder that is not a run, a run of another config, and extra flags', () => {
  refused((d) => ['train', '--resume', d], /not a synthgrad run directory/);
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-resume-'));
  try {
    const runDir = join(dir, 'run');
    const r = run(['train', '--preset', 'mnist-backprop', '--max-steps', '3', '--batch-size', '16', '--out', runDir]);
    assert.equal(r.code, 0, r.stderr);
    refused(() => ['train', '--resume', runDir, '--lr', '0.1'], /--resume continues with the run's own config; drop --lr/);
    // someone edits the recorded config: the checkpoint no longer belongs to it
    const configFile = join(runDir, 'config.json');
    const recorded = JSON.parse(readFileSync(configFile, 'utf8'));
    recorded.config.optimizer.learningRate = 0.5;
    writeFileSync(configFile, JSON.stringify(recorded));
    const before = snapshot(runDir);
    const again = run(['train', '--resume', runDir]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /manifest\.json: was written for another config/);
    assert.deepEqual(snapshot(runDir), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGINT: the run drains, checkpoints, writes a stopped summary, exits 130; --resume ends bit-identical to an uninterrupted lockstep run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-sigint-'));
  try {
    const args = ['train', '--preset', 'mnist-cdni', '--schedule', 'lockstep', '--max-steps', '300', '--batch-size', '32'];
    const whole = run([...args, '--out', join(dir, 'whole')]);
    assert.equal(whole.code, 0, whole.stderr);

    const runDir = join(dir, 'run');
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [cli, ...args, '--out', runDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    // interrupt once the first training-loss line is in metrics.jsonl
    await waitForText(join(runDir, 'metrics.jsonl'), '"type":"train"', () => stderr);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 130, stderr);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    assert.equal(summary.stopped, true);
    assert.ok(summary.steps > 0 && summary.steps < 300, `stopped at ${summary.steps}`);
    assert.equal(summary.checkpointStep, summary.steps);
    const done = run(['train', '--resume', runDir]);
    assert.equal(done.code, 0, done.stderr);
    const finished = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    assert.equal(finished.steps, 300);
    assert.equal(finished.resumedFrom, summary.steps);
    assert.equal(finished.stopped, false);
    // times and rates cover both processes: the stopped part and the resumed one
    assert.ok(finished.wallSeconds > summary.wallSeconds, `wall ${finished.wallSeconds} s after resuming, ${summary.wallSeconds} s before`);
    assert.ok(finished.trainSeconds > summary.trainSeconds, `training ${finished.trainSeconds} s after resuming, ${summary.trainSeconds} s before`);
    assert.ok(Math.abs(finished.trainSamplesPerSecond - (300 * 32) / finished.trainSeconds) < 1e-6 * finished.trainSamplesPerSecond, 'samples/s over every step of the run');
    const states = (run: string) => {
      const manifest = JSON.parse(readFileSync(join(run, 'checkpoint', 'manifest.json'), 'utf8'));
      return manifest.stages.map((s: { file: string }) => {
        const state = decodeStageState(readFileSync(join(run, 'checkpoint', s.file)), s.file);
        return [state.weights, state.optimizer, state.synthesizer];
      });
    };
    assert.deepEqual(states(runDir), states(join(dir, 'whole')));
    assert.equal(finished.testAccuracy, JSON.parse(readFileSync(join(dir, 'whole', 'summary.json'), 'utf8')).testAccuracy);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SYNTHGRAD_FAULT through the CLI: restarted once; with --max-restarts 0 the run fails with exit 1 and says how to resume', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-fault-'));
  try {
    const args = ['train', '--preset', 'mnist-cdni', '--schedule', 'lockstep', '--max-steps', '30', '--batch-size', '32', '--checkpoint-every', '10'];
    const ok = run([...args, '--out', join(dir, 'a')], { SYNTHGRAD_FAULT: 'stage=2,step=15' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /stage 2 failed; restarted from its checkpoint of step 10/);
    assert.equal(JSON.parse(readFileSync(join(dir, 'a', 'summary.json'), 'utf8')).restarts, 1);
    const failed = run([...args, '--max-restarts', '0', '--out', join(dir, 'b')], { SYNTHGRAD_FAULT: 'stage=2,step=15,kind=exit' });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /synthgrad: stage 2 failed: .*the last checkpoint \(step 10\) is kept: continue with synthgrad train --resume/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
