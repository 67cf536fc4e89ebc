import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { presetNames } from '../src/config/presets.js';
import { resolveConfig } from '../src/config/resolve.js';

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

test('bad flags are refused with the flag named, exit 2', () => {
  let r = run(['train', '--epochs', 'many']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--epochs/);
  r = run(['train', '--preset', 'mnist-nope']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /mnist-cdni/);
  for (const bad of ['0', '-1', '1.5']) {
    r = run(['train', '--eval-every', bad]);
    assert.equal(r.code, 2);
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

test('no arguments: the help, exit 0, nothing trained', () => {
  withDir((dir) => {
    const r = spawnSync(process.execPath, [cli], { encoding: 'utf8', timeout: 60_000, cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    for (const command of ['train', 'presets', 'config', 'report', 'bench', 'stage', 'group']) assert.match(r.stdout, new RegExp(`\\n  ${command} `));
    assert.equal(existsSync(join(dir, 'runs')), false, 'no run started');
  });
});

test('an unknown command is named as such, exit 2', () => {
  const r = run(['trian', '--epochs', '1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'trian'/);
  assert.match(r.stderr, /Did you mean train\?/);
  assert.doesNotMatch(r.stderr, /too many arguments/);
});

test('every flag or argument the parser refuses exits 2, in every command; --help and --version exit 0', () => {
  const refused: string[][] = [
    ['train', '--bogus'],
    ['train', '--epochs'],
    ['train', '--mode', 'magic'],
    ['train', 'extra'],
    ['config', '--batch-size', '0'],
    ['report'],
    ['report', 'a', '--bogus'],
    ['bench', '--steps', 'x'],
    ['stage', '--nats', 'nats://127.0.0.1:1'],
    ['group'],
    ['presets', '--all'],
  ];
  for (const args of refused) {
    const r = run(args);
    assert.equal(r.code, 2, `synthgrad ${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, /error: /, `synthgrad ${args.join(' ')} says why`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  for (const args of [['--help'], ['train', '--help'], ['config', '--help'], ['--version']]) {
    assert.equal(run(args).code, 0, `synthgrad ${args.join(' ')}`);
  }
});

test('synthgrad presets lists every preset with one line of description', () => {
  const r = run(['presets']);
  assert.equal(r.code, 0, r.stderr);
  for (const name of presetNames) assert.match(r.stdout, new RegExp(`^${name} +\\S.{20,}$`, 'm'), `a line for ${name}`);
});

test('synthgrad config prints the resolved config of a preset or a file with flags, as train would run it', () => {
  withDir((dir) => {
    let r = run(['config', '--preset', 'mnist-backprop', '--epochs', '2', '--lr', '0.01']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), resolveConfig({ preset: 'mnist-backprop', overrides: { train: { epochs: 2 }, optimizer: { learningRate: 0.01 } } }));
    const file = join(dir, 'mine.json');
    writeFileSync(file, JSON.stringify({ train: { batchSize: 64 } }));
    r = run(['config', '--config', file, '--schedule', 'lockstep']);
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout);
    assert.equal(printed.mode, 'cdni', 'a file without "preset" starts from the default preset');
    assert.equal(printed.preset, undefined);
    assert.equal(printed.train.batchSize, 64);
    assert.equal(printed.train.schedule, 'lockstep');
    assert.equal(printed.train.logEvery, 50, 'defaults filled in');
    writeFileSync(file, JSON.stringify({ mode: 'cdni', model: { classes: 10, layers: [] } }));
    r = run(['config', '--config', file, '--preset', 'mnist-cdni', '--lr', '-1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /mine\.json/);
    assert.match(r.stderr, /optimizer\.learningRate/);
    assert.match(r.stderr, /model\.layers: Too small/, 'no layers at all: named, not a TypeError');
    assert.equal(existsSync(join(dir, 'runs')), false);
  });
});
