import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withDir(fn: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-cli-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a bad config file: one message naming the file and field, exit 2, no run directory', () => {
  withDir((dir) => {
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ preset: 'mnist-cdni', optimizer: { learningRate: -0.1 }, train: { batchSize: 0 } }));
    const out = join(dir, 'run');
    const r = run(['train', '--config', config, '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.json/);
    assert.match(r.stderr, /optimizer\.learningRate/);
    assert.match(r.stderr, /train\.batchSize/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace for a user error');
    assert.equal(existsSync(out), false);
  });
});

test('a bad --data folder: the missing files are named, exit 2, no run directory', () => {
  withDir((dir) => {
    const data = join(dir, 'data');
    writeFileSync(join(dir, 'placeholder'), '');
    const out = join(dir, 'run');
    let r = run(['train', '--data', data, '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(data.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    r = run(['train', '--data', dir, '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /train-images-idx3-ubyte/);
    assert.equal(existsSync(out), false);
  });
});

test('bad flags are refused with the flag named', () => {
  let r = run(['train', '--epochs', 'many']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--epochs/);
  r = run(['train', '--preset', 'mnist-nope']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /mnist-cdni/);
  for (const bad of ['0', '-1', '1.5']) {
    r = run(['train', '--eval-every', bad]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--eval-every.*positive whole number/);
  }
  r = run(['train', '--resume', 'some-run', '--eval-every', '100']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /drop --eval-every/);
});

test('an --out directory that holds files is not overwritten', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'keep.txt'), 'precious');
    const r = run(['train', '--out', dir, '--max-steps', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not empty/);
  });
});

test('--help lists the presets and flags', () => {
  const r = run(['train', '--help']);
  assert.equal(r.code, 0);
  for (const word of ['--preset', 'mnist-cdni-stochastic', '--update-probability', '--max-steps', '--backend', 'pipelined', '--resume', '--placement', '--eval-every']) assert.match(r.stdout, new RegExp(word));
});
