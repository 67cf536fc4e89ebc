import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTempDir } from './helpers/temp-dir.js';
import { resolveSequenceConfig, type SequenceConfig } from '../src/sequence/config.js';
import type { SequenceSummary } from '../src/sequence/run.js';
import { tableFiles } from '../src/lab/paper/table.js';
import { tableChecks, tableMarkdown, type CellResult, type TableJson, type TableMode, type TableTask } from '../src/lab/paper/recurrent-table.js';

function result(task: TableTask, mode: TableMode, window: number, figure: number | null): CellResult {
  const config = resolveSequenceConfig(undefined, { task, mode, window });
  const summary =
    figure === null
      ? null
      : ({ task, mode, window, stopped: false, solved: task === 'char-lm' ? null : figure, bpc: task === 'char-lm' ? { test: figure, valid: figure, chars: 10 } : null } as unknown as SequenceSummary);
  return { cell: { task, mode, window, dir: `${task}-${mode}-T${window}`, config }, summary };
}

describe('recurrent table', () => {
  it("decides the issue's claims from the cells, and says 'not run' for missing ones", () => {
    const results = [
      result('copy', 'bptt', 3, 4),
      result('copy', 'dni', 3, 8),
      result('copy', 'dni+aux', 3, 7),
      result('char-lm', 'bptt', 2, 2.5),
      result('char-lm', 'dni', 2, 2.4),
      result('char-lm', 'bptt', 3, 2.5),
      result('char-lm', 'dni', 3, 2.6),
    ];
    const checks = tableChecks(results);
    assert.deepEqual(
      checks.map((c) => c.holds),
      [true, false, true, false, null],
    );
    const json: TableJson = { command: 'node x', budget: { copy: { timeStepsPerStream: 9, describe: 'b1' }, 'repeat-copy': { timeStepsPerStream: 9, describe: 'b2' }, 'char-lm': { timeStepsPerStream: 9, describe: 'b3' } }, cells: [], checks };
    const md = tableMarkdown(results, json);
    assert.match(md, /\| task \| BPTT T=2 \| BPTT T=3 \| DNI T=2 \| DNI T=3 \| DNI\+Aux T=2 \| DNI\+Aux T=3 \|/);
    assert.match(md, /\| Copy \(largest length solved\) \|  \| 4 \|  \| 8 \|  \| 7 \|/);
    assert.match(md, /\| char LM \(test bits per character\) \| 2\.500 \| 2\.500 \| 2\.400 \| 2\.600 \|  \|  \|/);
    assert.match(md, /DNI at least doubles the dependency length BPTT learns at the same T/);
    assert.match(md, /not confirmed/);
  });

  it('a cell that did not finish shows a dash and decides nothing', () => {
    const results = [result('copy', 'bptt', 3, null), result('copy', 'dni', 3, 6)];
    assert.equal(tableChecks(results)[0].holds, null);
  });
});

describe('scripts/reproduce-recurrent', () => {
  const script = fileURLToPath(new URL('../scripts/reproduce-recurrent.js', import.meta.url));
  const run = (args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 300_000 });

  it('trains the cells asked for, writes the table (markdown and JSON) beside them, and reuses finished cells', async () => {
    await withTempDir('recurrent-table', (dir) => {
      const args = ['--out', dir, '--tasks', 'copy', '--modes', 'bptt,dni', '--windows', '2', '--copy-steps', '8'];
      const first = run(args);
      assert.equal(first.status, 0, first.stderr);
      const json = JSON.parse(readFileSync(join(dir, tableFiles.json), 'utf8')) as TableJson;
      assert.deepEqual(json.cells.map((c) => [c.dir, c.windows]), [['copy-bptt-T2', 4], ['copy-dni-T2', 4]]);
      assert.ok(json.cells.every((c) => typeof c.figure === 'number'));
      assert.match(json.command, /reproduce-recurrent\.js --out .* --copy-steps 8/);
      assert.match(readFileSync(join(dir, tableFiles.markdown), 'utf8'), /\| Copy \(largest length solved\) \| \d+ \| \d+ \|/);
      const firstSummary = readFileSync(join(dir, 'copy-dni-T2', 'summary.json'), 'utf8');
      assert.equal(run(args).status, 0);
      assert.equal(readFileSync(join(dir, 'copy-dni-T2', 'summary.json'), 'utf8'), firstSummary, 'a finished cell is reused, not trained again');
      const other = run([...args.slice(0, -1), '10']);
      assert.equal(other.status, 2);
      assert.match(other.stderr, /copy-bptt-T2: holds a run of another config/);
    });
  });

  it("--lr sets every cell's learning rate; --conditioned, --synthesizer-activation and --discount set the time synthesizer of DNI and DNI+Aux (BPTT has none)", async () => {
    await withTempDir('recurrent-table', (dir) => {
      const r = run(['--out', dir, '--tasks', 'copy', '--modes', 'bptt,dni,dni+aux', '--windows', '2', '--copy-steps', '4', '--lr', '0.001', '--conditioned', '--synthesizer-activation', 'leaky-relu', '--discount', '0.5']);
      assert.equal(r.status, 0, r.stderr);
      const config = (cell: string) => (JSON.parse(readFileSync(join(dir, cell, 'config.json'), 'utf8')) as { config: SequenceConfig }).config;
      const preset = resolveSequenceConfig('copy-bptt', {}).synthesizer;
      assert.deepEqual(
        ['copy-bptt-T2', 'copy-dni-T2', 'copy-dni-aux-T2'].map((c) => [config(c).learningRate, config(c).synthesizer.conditioned, config(c).synthesizer.activation, config(c).synthesizer.discount]),
        [[0.001, false, preset.activation, preset.discount], [0.001, true, 'leaky-relu', 0.5], [0.001, true, 'leaky-relu', 0.5]],
      );
      assert.match(readFileSync(join(dir, tableFiles.markdown), 'utf8'), /Adam lr 0\.001, time synthesizer hidden \[128\] \(leaky-relu\) lr 0\.001 discount 0\.5 conditioned on the next window's targets/);
      const bad = run(['--out', join(dir, 'bad'), '--tasks', 'copy', '--windows', '2', '--copy-steps', '4', '--lr', '-1']);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /learningRate/);
    });
  });
});
