/**
 * The gradient sources compared on the 4-layer MNIST MLP (one stage per layer): backprop, DNI,
 * cDNI, FA, DFA and BP(λ), and with --labels low-high (a two-class task) kickback, one run each, trained one after the other; writes the table into <out>
 * (markdown and JSON: test error, steps and time to 97%, mean cosine with the true gradient per stage)
 * and <out>/report.html (the runs side by side, with the cosine against step per stage).
 *
 *   npm run build
 *   node dist/scripts/compare-gradients.js --out /tmp/sources --budget 2145
 *   node dist/scripts/compare-gradients.js --out /tmp/two --labels low-high --modes backprop,fa,dfa,kickback
 *   node dist/src/cli/main.js report /tmp/sources/fcn4-*    # draws the runs side by side
 */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { writeReport } from '../src/lab/report/index.js';
import { runProgram } from '../src/cli/exit.js';
import type { Mode } from '../src/config/schema.js';
import { parseBudget, parseModes } from '../src/lab/paper/arguments.js';
import { positiveInt, seed as parseSeed } from '../src/cli/flags.js';
import { commandLine, executeTable } from '../src/lab/paper/execute.js';
import { sourceModes, sourcesTable } from '../src/lab/paper/sources-table.js';
import { labellings, type Labelling } from '../src/data/index.js';

interface Flags {
  out: string;
  modes?: Mode[];
  budget?: number;
  seed?: number | string;
  probeEvery: number;
  evalEvery: number;
  tableOnly?: boolean;
  labels?: Labelling;
}

const tenClassModes = sourceModes.filter((m) => m !== 'kickback');

const program = new Command('compare-gradients')
  .description('train the 4-layer MNIST MLP with each gradient source; the table (markdown, JSON) and report.html')
  .requiredOption('--out <dir>', 'folder of the table; each mode trains in <out>/fcn4-<mode>. Finished runs of the same config are reused, stopped ones resumed')
  .option('--modes <list>', `among ${sourceModes.join(', ')} (default: all; kickback only with --labels)`, (v) => parseModes(v, sourceModes))
  .addOption(new Option('--labels <task>', 'every mode on two classes made from the ten: low-high (0-4 against 5-9) or odd-even; kickback needs one').choices(labellings))
  .option('--budget <steps>', "training steps per run; lr ÷10 at 1/2 and 3/4 of them (default: the presets' 20 epochs, 8580 steps)", parseBudget)
  .option('--seed <seed>', "seed of every run (default: the presets', 1)", parseSeed)
  .option('--probe-every <n>', 'steps between gradient probes', positiveInt, 100)
  .option('--eval-every <n>', 'steps between test evaluations (for the steps to 97%)', positiveInt, 100)
  .option('--table-only', 'train nothing: write the table from the runs already in --out')
  .action(async (flags: Flags) => {
    await executeTable(
      (data) =>
        sourcesTable({
          modes: flags.modes ?? (flags.labels && flags.labels !== 'classes' ? [...sourceModes] : tenClassModes),
          labels: flags.labels,
          outDir: flags.out,
          command: commandLine(),
          overrides: { budget: flags.budget, seed: flags.seed },
          trainCount: data.train.count,
          probeEvery: flags.probeEvery,
          evalEvery: flags.evalEvery,
        }),
      {
        train: !flags.tableOnly,
        after: (table) => {
          const runs = table.cells.filter((c) => c.outcome?.summary).map((c) => c.dir);
          if (runs.length) process.stdout.write(`${writeReport(runs, join(table.outDir, 'report.html'), { force: true })}\n`); // the comparison's own report
        },
      },
    );
  });

runProgram(program);
