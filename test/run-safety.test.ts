import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeStageState } from '../src/stage/stage-state.js';
import { withTempDir } from './helpers/temp-dir.js';
import { snapshot } from './helpers/tree.js';
import { cannotMount, remountReadOnly, withTmpfs } from './helpers/mounts.js';
import { testNeeding } from './helpers/needs.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const small = ['--preset', 'mnist-backprop', '--schedule', 'lockstep', '--batch-size', '32'];

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The run's manifest, after checking that every stage file it names is whole and decodes. */
function intactCheckpoint(runDir: string): { progress: { step: number } } {
  const manifest = JSON.parse(readFileSync(join(runDir, 'checkpoint', 'manifest.json'), 'utf8'));
  for (const entry of manifest.stages as { file: string; bytes: number }[]) {
    const bytes = readFileSync(join(runDir, 'checkpoint', entry.file));
    assert.equal(bytes.length, entry.bytes, `${entry.file} has the size the manifest gives`);
    decodeStageState(bytes, entry.file);
  }
  return manifest;
}

test('--resume of a finished run refuses (exit 2) and changes nothing; report --out refuses to overwrite another file', () =>
  withTempDir('synthgrad-safety', (dir) => {
    const runDir = join(dir, 'run');
    let r = run(['train', ...small, '--max-steps', '5', '--out', runDir]);
    assert.equal(r.code, 0, r.stderr);
    const before = snapshot(runDir);
    r = run(['train', '--resume', runDir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /finished at step 5 \(summary\.json\): there is nothing to resume/);
    assert.deepEqual(snapshot(runDir), before, 'summary.json, trace.json and report.html are as they were');

    r = run(['report', runDir, '--out', join(runDir, 'summary.json')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /summary\.json: exists and is not the report of the first run.*--force/);
    assert.deepEqual(snapshot(runDir), before, "the run's summary.json is untouched");
    r = run(['report', runDir]);
    assert.equal(r.code, 0, 'its own report.html is rewritten');
    const other = join(dir, 'other.html');
    writeFileSync(other, 'mine');
    assert.equal(run(['report', runDir, '--out', other]).code, 2);
    assert.equal(readFileSync(other, 'utf8'), 'mine');
    assert.equal(run(['report', runDir, '--out', other, '--force']).code, 0);
    assert.match(readFileSync(other, 'utf8'), /^<!DOCTYPE html>/);
  }));

test('a failed start (NATS unreachable) leaves nothing in --out, so the same --out can be retried', () =>
  withTempDir('synthgrad-failed-start', (dir) => {
    const out = join(dir, 'run');
    for (const attempt of [1, 2]) {
      const r = run(['train', ...small, '--max-steps', '2', '--transport', 'nats', '--nats', 'nats://127.0.0.1:1', '--out', out]);
      assert.equal(r.code, 1, `attempt ${attempt}: ${r.stderr}`);
      assert.match(r.stderr, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
      assert.doesNotMatch(r.stderr, /is not empty/, `attempt ${attempt} is not blocked by the first`);
      assert.equal(existsSync(out), false);
    }
  }));

testNeeding(cannotMount(), 'an output folder that runs out of space mid-run: one message naming the file and ENOSPC, exit 1, the last checkpoint intact', { timeout: 240_000 }, () =>
  withTempDir('synthgrad-enospc', (dir) =>
    // one checkpoint of mnist-backprop is about 4 MB: the first fits, the second does not
    withTmpfs(join(dir, 'fs'), '6m', (fs) => {
      const runDir = join(fs, 'run');
      const r = run(['train', ...small, '--max-steps', '200', '--checkpoint-every', '10', '--out', runDir]);
      assert.equal(r.code, 1, `exit ${r.code} (null: killed, it hung); stderr: ${r.stderr}`);
      assert.match(r.stderr, /synthgrad: \S+: cannot be written: ENOSPC: no space left on device/);
      assert.match(r.stderr, /the last checkpoint \(step 10\) is kept/);
      assert.doesNotMatch(r.stderr, /restarted|stage \d failed/, 'not taken for a stage failure');
      assert.equal(intactCheckpoint(runDir).progress.step, 10);
    }),
  ),
);

testNeeding(cannotMount(), 'an output folder that becomes read-only mid-run: one message naming the file and EROFS, exit 1, the last checkpoint intact', { timeout: 240_000 }, () =>
  withTempDir('synthgrad-erofs', (dir) =>
    withTmpfs(join(dir, 'fs'), '256m', async (fs) => {
      const runDir = join(fs, 'run');
      const child = spawn(process.execPath, [cli, 'train', ...small, '--max-steps', '5000', '--checkpoint-every', '10', '--out', runDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      try {
        while (!existsSync(join(runDir, 'checkpoint', 'manifest.json'))) await sleep(100); // bounded by the test's timeout
        remountReadOnly(fs);
        const code = await exited;
        assert.equal(code, 1, stderr);
        assert.match(stderr, /synthgrad: \S+: cannot be written: EROFS: read-only file system/);
        assert.doesNotMatch(stderr, /restarted|stage \d failed/, 'not taken for a stage failure');
        const step = intactCheckpoint(runDir).progress.step;
        assert.ok(step >= 10 && step % 10 === 0, `checkpoint at step ${step}`);
        assert.match(stderr, new RegExp(`the last checkpoint \\(step ${step}\\) is kept`));
      } finally {
        child.kill('SIGKILL');
      }
    }),
  ),
);
