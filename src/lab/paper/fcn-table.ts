import type { Mode } from '../../config/schema.js';
import { fcnModes, mnistFcn } from '../../config/mnist-fcn.js';
import { planCell, runsNote, type CellOverrides } from './plan.js';
import { citableFigures, paperTable, paperTestError } from './reported.js';
import type { PlannedTable } from './run-table.js';

/** The run directory of a row and mode inside the table's folder, e.g. `fcn4-cdni`. */
export function fcnCellName(layers: number, mode: Mode): string {
  return `fcn${layers}-${mode}`;
}

/** The DNI paper's MNIST FCN table: rows = depths, columns = modes; one run per cell. */
export function fcnTable(options: { layers: number[]; modes: Mode[]; outDir: string; command: string; overrides: CellOverrides; trainCount: number }): PlannedTable {
  const { layers, outDir, overrides, trainCount } = options;
  const modes = fcnModes.filter((m) => options.modes.includes(m));
  const cells = layers.flatMap((l) => modes.map((mode) => planCell(mnistFcn(l, mode), l, mode, outDir, fcnCellName(l, mode), overrides, trainCount)));
  return {
    title: 'MNIST FCN: test error (%) by depth and mode',
    rowHead: 'layers',
    modes,
    cells,
    outDir,
    command: options.command,
    extra: { head: 'paper (Table 1)', cell: (l) => paperCell(l, modes) },
    notes: [
      runsNote(cells),
      '"layers" counts the output layer: 4 layers is 784-256-256-256-10. Hidden layers have 256 units with BatchNorm and ReLU; one layer per stage; ' +
        'DNI synthesizers have 2 hidden layers of 1024 with BatchNorm, cDNI synthesizers are linear and see the one-hot label.',
      `Paper values: ${paperTable} could not be retrieved here, so its cells are marked "not confirmed". What can be cited (docs/paper.md, "What others reported"):`,
      citableFigures.map((f) => `- ${f.source}: ${f.setting}: ${f.result}`).join('\n'),
    ],
  };
}

function paperCell(layers: number, modes: Mode[]): string {
  const values = modes.map((m) => paperTestError(layers, m));
  return values.every((v) => v === null) ? 'not confirmed' : values.map((v) => (v === null ? 'not confirmed' : v.toFixed(2))).join(' / ');
}
