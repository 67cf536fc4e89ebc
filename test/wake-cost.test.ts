import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWakeCase, WAKE_CASES } from '../src/lab/bench/wake-cost.js';
import { quantile } from '../src/lab/bench/stats.js';
import { withTempDir } from './helpers/temp-dir.js';

const script = fileURLToPath(new URL('../scripts/wake-cost.js', import.meta.url));
const spawn = (args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 120_000 });

test('quantile: nearest rank', () => {
  assert.equal(quantile([5, 1, 3, 2, 4], 0.5), 3);
  assert.equal(quantile([5, 1, 3, 2, 4], 0.9), 5);
  assert.equal(quantile([7], 0.1), 7);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test('a wake-cost case times every send of both threads after the warm-up', async () => {
  for (const c of [WAKE_CASES[0], WAKE_CASES[1]]) {
    const run = await runWakeCase(c, { rounds: 30, warmup: 5, floats: 1024 });
    assert.equal(run.case, c.name);
    assert.equal(run.sends, 2 * 30, 'each thread sends warm-up + rounds times');
    assert.ok(run.medianUs > 0 && run.p90Us >= run.medianUs, JSON.stringify(run));
  }
});

test('wake-cost prints every case and writes the figures as JSON', () =>
  withTempDir('synthgrad-wake', (dir) => {
    const json = join(dir, 'wake.json');
    const r = spawn(['--rounds', '20', '--warmup', '2', '--repetitions', '2', '--floats', '256', '--json', json]);
    assert.equal(r.status, 0, r.stderr);
    for (const c of WAKE_CASES) assert.match(r.stdout, new RegExp(c.name.replace('.', '\\.')));
    const out = JSON.parse(readFileSync(json, 'utf8')) as { cases: { name: string; medianUs: number; perRepetitionUs: number[] }[]; runs: unknown[] };
    assert.deepEqual(out.cases.map((c) => c.name), WAKE_CASES.map((c) => c.name));
    assert.equal(out.runs.length, 2 * WAKE_CASES.length);
    for (const c of out.cases) assert.ok(c.medianUs > 0 && c.perRepetitionUs.length === 2, JSON.stringify(c));
  }));

test('wake-cost refuses a bad flag, naming it', () => {
  const r = spawn(['--rounds', '0']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--rounds/);
  assert.equal(r.stdout, '');
});
