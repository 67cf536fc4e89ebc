import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSequenceConfig } from '../src/sequence/config.js';
import type { SequenceSummary } from '../src/sequence/run.js';
import { tableChecks, tableMarkdown, type CellResult, type TableJson, type TableMode, type TableTask } from '../src/sequence/table.js';

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
