import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableFiles, tableMarkdown, type Table } from '../src/lab/paper/table.js';
import type { Summary } from '../src/run/summary.js';

const reproduce = fileURLToPath(new URL('../scripts/reproduce-paper.js', import.meta.url));
const sweep = fileURLToPath(new URL('../scripts/sweep-update-probability.js', import.meta.url));
let root: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'synthgrad-paper-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function run(script: string, args: string[]) {
  return spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 300_000 });
}

type CellJson = { row: number; mode: string; status: string; dir: string; testErrorPercent: number | null; steps: number | null; schedule: { steps: number; decaySteps: number[] } };
const readTable = (dir: string) => JSON.parse(readFileSync(join(dir, tableFiles.json), 'utf8')) as { command: string; cells: CellJson[] };

test('reproduce-paper: one run per cell, the table (markdown and JSON); a re-run reuses finished cells; another budget is refused', () => {
  const out = join(root, 'fcn');
  let r = run(reproduce, ['--out', out, '--layers', '3', '--modes', 'cdni,backprop', '--budget', '5']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  let table = readTable(out);
  assert.deepEqual(
    table.cells.map((c) => [c.row, c.mode, c.status, c.dir, c.steps, c.schedule.decaySteps]),
    [
      [3, 'backprop', 'trained', 'fcn3-backprop', 5, [3, 4]],
      [3, 'cdni', 'trained', 'fcn3-cdni', 5, [3, 4]],
    ],
    'modes in the paper\'s order, whatever the order given',
  );
  for (const c of table.cells) {
    assert.ok(c.testErrorPercent !== null && c.testErrorPercent > 0 && c.testErrorPercent < 100);
    assert.ok(existsSync(join(out, c.dir, 'summary.json')));
  }
  const markdown = readFileSync(join(out, tableFiles.markdown), 'utf8');
  assert.match(markdown, /\| layers \| steps \(epochs\) \| backprop \| cDNI \| paper \(Table 1\) \|/);
  const e = (mode: string) => table.cells.find((c) => c.mode === mode)!.testErrorPercent!.toFixed(2);
  assert.ok(markdown.includes(`| 3 | 5 (1 epoch) | [${e('backprop')}](fcn3-backprop/) | [${e('cdni')}](fcn3-cdni/) | not confirmed |`), markdown);
  assert.match(markdown, /--budget 5/, 'the command that built it');

  r = run(reproduce, ['--out', out, '--layers', '3', '--modes', 'backprop,cdni', '--budget', '5']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /layers 3, backprop: finished earlier, reused/);
  table = readTable(out);
  assert.deepEqual(table.cells.map((c) => c.status), ['reused', 'reused']);

  r = run(reproduce, ['--out', out, '--layers', '3', '--modes', 'cdni', '--budget', '6']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`${join(out, 'fcn3-cdni')}: holds a run of another config \\(differs in optimizer.decaySteps, train.maxSteps\\); remove it or choose another --out`));
  assert.doesNotMatch(r.stdout, /training/, 'nothing trained');
});

test('reproduce-paper refuses a folder that is not a run, and bad flags, before training anything', () => {
  const out = join(root, 'busy');
  mkdirSync(join(out, 'fcn3-cdni'), { recursive: true });
  writeFileSync(join(out, 'fcn3-cdni', 'notes.txt'), 'mine');
  let r = run(reproduce, ['--out', out, '--layers', '3', '--modes', 'cdni', '--budget', '5']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /fcn3-cdni: is not empty and holds no synthgrad run \(no config.json\)/);
  assert.equal(readFileSync(join(out, 'fcn3-cdni', 'notes.txt'), 'utf8'), 'mine');
  r = run(reproduce, ['--out', out, '--layers', '7']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--layers: expected a comma-separated list of 3, 4, 5, 6, got "7"/);
  r = run(reproduce, ['--out', out, '--budget', 'lots']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--budget: expected a positive whole number of training steps/);
});

test('sweep-update-probability: a row per p, and report.html draws test error against p', () => {
  const out = join(root, 'sweep');
  const r = run(sweep, ['--out', out, '--modes', 'cdni', '--p', '1,0.5', '--budget', '5']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const table = readTable(out);
  assert.deepEqual(table.cells.map((c) => [c.row, c.mode, c.dir, c.status]), [[1, 'cdni', 'cdni-p1', 'trained'], [0.5, 'cdni', 'cdni-p0.5', 'trained']]);
  const config = JSON.parse(readFileSync(join(out, 'cdni-p0.5', 'config.json'), 'utf8'));
  assert.equal(config.config.train.updateProbability, 0.5);
  assert.equal(config.config.model.layers.length, 4);
  assert.match(readFileSync(join(out, tableFiles.markdown), 'utf8'), /\| p \| steps \(epochs\) \| cDNI \|/);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /<canvas id="error-vs-p"/);
});

test('tableMarkdown: missing, failed and stopped cells say so', () => {
  const schedule = { steps: 429, epochs: 1, batchSize: 128, learningRate: 0.001, decaySteps: [215, 322], decayFactor: 0.1 };
  const summary = (testAccuracy: number, steps: number) => ({ testAccuracy, steps, stopped: steps < 429 }) as Summary;
  const table: Table = {
    title: 'T',
    rowHead: 'layers',
    modes: ['backprop', 'dni', 'cdni'],
    outDir: '/runs',
    command: 'node x.js',
    notes: [],
    cells: [
      { row: 3, mode: 'backprop', schedule, outcome: { dir: '/runs/a', status: 'trained', summary: summary(0.9675, 429), seconds: 1 } },
      { row: 3, mode: 'dni', schedule, outcome: { dir: '/runs/b', status: 'failed', summary: null, error: 'boom', seconds: 1 } },
      { row: 3, mode: 'cdni', schedule, outcome: { dir: '/runs/c', status: 'stopped', summary: summary(0.95, 200), seconds: 1 } },
      { row: 5, mode: 'backprop', schedule, outcome: null },
    ],
  };
  const md = tableMarkdown(table, new Date('2026-01-01T00:00:00Z'));
  assert.ok(md.includes('| 3 | 429 (1 epoch) | [3.25](a/) | failed ([run](b/)) | [5.00](c/) (stopped at step 200 of 429; error at its last finished epoch) |'), md);
  assert.ok(md.includes('| 5 | 429 (1 epoch) | not run yet | - | - |'), md);
  assert.match(md, /- layers 3, DNI: failed: boom/);
  assert.match(md, /Schedule: 429 steps of batch 128 \(1 epoch\), Adam lr 0.001, ÷10 at steps 215 and 322\./);
});

test('reproduce-paper stopped by SIGTERM: the running cell checkpoints, the table says stopped, exit status 143 as for train', async () => {
  const out = join(root, 'sigterm');
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [reproduce, '--out', out, '--layers', '3', '--modes', 'cdni', '--budget', '20000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  // stop once the cell's run directory has a training-loss line
  const metrics = join(out, 'fcn3-cdni', 'metrics.jsonl');
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const started = Date.now();
  while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').includes('"type":"train"'))) {
    assert.ok(Date.now() - started < 120_000, `no training progress: ${stdout}${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  assert.equal(await exited, 143, stdout + stderr);
  assert.match(stdout, /SIGTERM: stopping the running cell/);
  assert.deepEqual(readTable(out).cells.map((c) => c.status), ['stopped']);
});

test('compare-gradients: one run per gradient source, with the steps to 97% and each stage\'s mean cosine with the true gradient', () => {
  const compare = fileURLToPath(new URL('../scripts/compare-gradients.js', import.meta.url));
  const out = join(root, 'sources');
  const r = run(compare, ['--out', out, '--modes', 'dfa,backprop,fa', '--budget', '8', '--probe-every', '4', '--eval-every', '4']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const table = JSON.parse(readFileSync(join(out, tableFiles.json), 'utf8')) as { cells: CellJson[]; details: { mode: string; steps: number; stepsTo97: number | null; cosine: (number | null)[] }[] };
  assert.deepEqual(table.cells.map((c) => [c.mode, c.status, c.dir]), [['backprop', 'trained', 'fcn4-backprop'], ['fa', 'trained', 'fcn4-fa'], ['dfa', 'trained', 'fcn4-dfa']]);
  assert.deepEqual(table.details.map((d) => [d.mode, d.steps, d.stepsTo97, d.cosine.length, d.cosine[3]]), [['backprop', 8, null, 4, null], ['fa', 8, null, 4, null], ['dfa', 8, null, 4, null]]);
  const [backprop, fa] = table.details;
  assert.ok(backprop.cosine.slice(0, 3).every((c) => Math.abs(c! - 1) < 1e-5), `backprop: ${backprop.cosine}`);
  assert.ok(fa.cosine.slice(0, 3).every((c) => c! < 0.9999), `fa: ${fa.cosine}`);
  const markdown = readFileSync(join(out, tableFiles.markdown), 'utf8');
  assert.match(markdown, /\| mode \| test error \(%\) \| steps to 97% \| s to 97% \(shared machine\) \| cos, stage 0 \| cos, stage 1 \| cos, stage 2 \|/);
  assert.match(markdown, /\| backprop \| [\d.]+ \| not in 8 \| - \| 1\.000 \| 1\.000 \| 1\.000 \|/);
  assert.match(markdown, /--modes dfa,backprop,fa --budget 8/, 'the command that built it');
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /Cosine with the true gradient per stage/);
});

test('compare-gradients --labels low-high: every mode on two classes, kickback among them (and refused without a two-class task)', () => {
  const compare = fileURLToPath(new URL('../scripts/compare-gradients.js', import.meta.url));
  const refused = run(compare, ['--out', join(root, 'no-kick'), '--modes', 'kickback', '--budget', '8']);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr + refused.stdout, /kickback runs on a two-class task: add --labels low-high/);
  const out = join(root, 'two-class');
  const r = run(compare, ['--out', out, '--labels', 'low-high', '--modes', 'kickback,backprop', '--budget', '8', '--probe-every', '4', '--eval-every', '4']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const table = JSON.parse(readFileSync(join(out, tableFiles.json), 'utf8')) as { cells: CellJson[]; details: { mode: string; cosine: (number | null)[] }[] };
  assert.deepEqual(table.cells.map((c) => [c.mode, c.status]), [['backprop', 'trained'], ['kickback', 'trained']]);
  const kickback = table.details[1].cosine;
  // the stage below the output gets e Wᵀ exactly; the stages below it get β·κ
  assert.ok(Math.abs(kickback[2]! - 1) < 1e-5 && kickback.slice(0, 2).every((c) => c! < 0.9999), `kickback: ${kickback}`);
  const markdown = readFileSync(join(out, tableFiles.markdown), 'utf8');
  assert.match(markdown, /two classes \(digits 0-4 against 5-9\)/);
  assert.match(markdown, /784-256-256-256-2 \(labels low-high/);
});
