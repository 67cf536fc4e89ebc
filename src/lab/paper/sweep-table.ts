import type { Mode } from '../../config/schema.js';
import { fcnModes, mnistFcn } from '../../config/mnist-fcn.js';
import { planCell, runsNote, type CellOverrides } from './plan.js';
import { citableFigures } from './reported.js';
import type { PlannedTable } from './run-table.js';

/** The run directory of a mode and update probability, e.g. `cdni-p0.2`. */
export function sweepCellName(mode: Mode, p: number): string {
  return `${mode}-p${p}`;
}

/**
 * Stochastic updates on the 4-layer MNIST FCN: rows = update probability p (each stage updates
 * its parameters and synthesizer on a batch with probability p), columns = dni and cdni.
 */
export function sweepTable(options: { probabilities: number[]; modes: Mode[]; layers: number; outDir: string; command: string; overrides: CellOverrides; trainCount: number }): PlannedTable {
  const { probabilities, layers, outDir, overrides, trainCount } = options;
  const modes = fcnModes.filter((m) => options.modes.includes(m));
  const cells = probabilities.flatMap((p) =>
    modes.map((mode) => {
      const base = mnistFcn(layers, mode);
      return planCell({ ...base, train: { ...base.train, updateProbability: p } }, p, mode, outDir, sweepCellName(mode, p), overrides, trainCount);
    }),
  );
  const quoted = citableFigures.filter((f) => /probability/.test(f.setting)).map((f) => `- ${f.source}: ${f.setting}: ${f.result}`);
  return {
    title: `MNIST FCN, ${layers} layers: test error (%) against the update probability p`,
    rowHead: 'p',
    modes,
    cells,
    outDir,
    command: options.command,
    notes: [
      runsNote(cells),
      'Each stage draws, per batch, whether it updates (parameters and synthesizer) with probability p from its own seeded stream; the forward pass always happens. ' +
        'The budget counts batches fed, so a stage makes about p × steps updates. report.html beside this table draws test error against p.',
      `What the paper reported (docs/paper.md):\n${quoted.join('\n')}`,
    ],
  };
}
