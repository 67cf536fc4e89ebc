import type { ConfigInput, Mode } from '../../config/schema.js';
import { mnistFcn } from '../../config/mnist-fcn.js';
import { withTwoClasses } from '../../config/resolve.js';
import type { Labelling } from '../../data/index.js';
import { meanProbeCosines, readRun } from '../report/index.js';
import { fcnCellName } from './fcn-table.js';
import { planCell, runsNote, type CellOverrides } from './plan.js';
import type { PlannedCell, PlannedTable } from './run-table.js';
import { testErrorPercent } from './table.js';

/** The gradient sources compared, in the table's order. */
export const sourceModes: readonly Mode[] = ['backprop', 'dni', 'cdni', 'fa', 'dfa', 'bp-lambda', 'kickback'];

/** The accuracy whose first step and time the table gives. */
export const TARGET_ACCURACY = 0.97;

export interface SourcesTableOptions {
  modes: Mode[];
  outDir: string;
  command: string;
  overrides: CellOverrides;
  trainCount: number;
  /** Steps between gradient probes (train.probeEvery) and between test evaluations (train.evalEvery). */
  probeEvery: number;
  evalEvery: number;
  /** Every mode on this task (default: the ten classes; kickback needs a two-class one). */
  labels?: Labelling;
}

const twoClassNames: Record<Exclude<Labelling, 'classes'>, string> = { 'low-high': 'digits 0-4 against 5-9', 'odd-even': 'odd digits against even' };

/**
 * The 4-layer MNIST MLP (784-256-256-256-10, one layer per stage) trained by each gradient source
 * (docs/gradient-sources.md) at one budget: test error, the first step and time at 97% test
 * accuracy, and each stage's mean cosine with the true gradient over the run's probes.
 */
export function sourcesTable(options: SourcesTableOptions): PlannedTable {
  const { outDir, overrides, trainCount } = options;
  const modes = sourceModes.filter((m) => options.modes.includes(m));
  const labels = options.labels ?? 'classes';
  if (labels === 'classes' && modes.includes('kickback')) {
    throw new Error("kickback runs on a two-class task: add --labels low-high (or odd-even), and every mode runs on it, or leave kickback out of --modes");
  }
  const cells = modes.map((mode) => {
    const base = labels === 'classes' ? mnistFcn(4, mode) : withTwoClasses(mnistFcn(4, mode), labels);
    const config: ConfigInput = {
      ...base,
      ...(base.lambda && overrides.budget !== undefined && { lambda: { ...base.lambda, steps: Math.round(overrides.budget / 2) } }),
      train: { ...base.train, probeEvery: options.probeEvery, evalEvery: options.evalEvery },
    };
    return planCell(config, 4, mode, outDir, fcnCellName(4, mode), overrides, trainCount);
  });
  const table: PlannedTable = {
    title: `MNIST MLP (4 layers, one stage per layer)${labels === 'classes' ? '' : `, two classes (${twoClassNames[labels]})`}: gradient sources compared`,
    rowHead: 'layers',
    modes,
    cells,
    outDir,
    command: options.command,
    details: () => sourcesDetails(cells),
    notes: [
      runsNote(cells),
      `784-256-256-256-${labels === 'classes' ? 10 : `2 (labels ${labels}: ${twoClassNames[labels]})`}, BatchNorm and ReLU on the hidden layers, Adam. ` +
        'DNI: synthesizers of 2 hidden layers of 1024 with BatchNorm; cDNI: linear synthesizers that see the label; ' +
        'FA and DFA: fixed random feedback matrices; BP(λ): DNI\'s synthesizers, λ linear from 1 to 0 over the first half of the steps; ' +
        'kickback: the error of the one output times each unit\'s kickback (one layer of feedback). fa, dfa, bp-lambda and kickback wait for their gradient (one batch in flight).',
      `"to ${TARGET_ACCURACY * 100}%": the first test evaluation (every ${options.evalEvery} steps and at epoch ends) at or above ${TARGET_ACCURACY * 100}% test accuracy; ` +
        'the seconds are wall time since the run started, evaluations included, measured on a shared machine (other work ran beside it): a rough figure, not a benchmark.',
      `"cos, stage s": the mean, over the run's gradient probes (every ${options.probeEvery} steps, a validation batch), of the cosine of the gradient stage s's source would use with the true gradient of h[s] (docs/gradient-sources.md). ` +
        'The last stage (3) has the loss\'s own gradient.',
    ],
  };
  return table;
}

function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined ? '-' : value.toFixed(digits);
}

/** The per-mode figures of a table's finished (or stopped) cells. */
function sourcesDetails(cells: PlannedCell[]): { markdown: string[]; json: unknown } {
  const rows = cells.map((cell) => {
    const summary = cell.outcome?.summary ?? null;
    const reached = summary?.testAccuracyReached?.[String(TARGET_ACCURACY)] ?? null;
    const cosines = cell.outcome ? meanProbeCosines(readRun(cell.dir)) : [];
    return {
      mode: cell.mode,
      testErrorPercent: testErrorPercent(cell.outcome),
      steps: summary?.steps ?? null,
      stepsTo97: reached?.step ?? null,
      secondsTo97: reached?.elapsedSeconds ?? null,
      cosine: cosines,
    };
  });
  const stages = Math.max(0, ...rows.map((r) => r.cosine.length)) - 1;
  const heads = ['mode', 'test error (%)', `steps to ${TARGET_ACCURACY * 100}%`, `s to ${TARGET_ACCURACY * 100}% (shared machine)`, ...Array.from({ length: Math.max(stages, 0) }, (_, s) => `cos, stage ${s}`)];
  const markdown = [
    `| ${heads.join(' | ')} |`,
    `| ${heads.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => {
      const notReached = r.steps === null ? '-' : `not in ${r.steps}`;
      const values = [r.mode, fixed(r.testErrorPercent, 2), r.stepsTo97 === null ? notReached : String(r.stepsTo97), r.secondsTo97 === null ? '-' : r.secondsTo97.toFixed(0), ...Array.from({ length: Math.max(stages, 0) }, (_, s) => fixed(r.cosine[s], 3))];
      return `| ${values.join(' | ')} |`;
    }),
  ];
  return { markdown, json: rows };
}
