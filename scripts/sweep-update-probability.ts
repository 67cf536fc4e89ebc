/**
 * Stochastic updates: the 4-layer MNIST FCN in DNI and cDNI at several update probabilities p,
 * one run each, one after the other; writes the table (markdown and JSON) into <out>, and
 * <out>/report.html (with test error against p).
 *
 *   npm run build
 *   node dist/scripts/sweep-update-probability.js --out /tmp/paper-runs/sweep --budget 858
 */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { runProgram } from '../src/cli/exit.js';
import type { Mode, Schedule } from '../src/config/schema.js';
import { parseBudget, parseModes, parseProbabilities } from '../src/lab/paper/arguments.js';
import { seed as parseSeed } from '../src/cli/flags.js';
import { commandLine, executeTable } from '../src/lab/paper/execute.js';
import { sweepTable } from '../src/lab/paper/sweep-table.js';
import { writeReport } from '../src/lab/report/index.js';

interface Flags {
  out: string;
  p: number[];
  modes: Mode[];
  budget?: number;
  seed?: number | string;
  schedule?: Schedule;
  tableOnly?: boolean;
}

const synthesizerModes: readonly Mode[] = ['dni', 'cdni'];

const program = new Command('sweep-update-probability')
  .description('train the 4-layer MNIST FCN with DNI and cDNI at several update probabilities; the table (markdown, JSON) and report.html')
  .requiredOption('--out <dir>', 'folder of the sweep; each run trains in <out>/<mode>-p<p>. Finished runs of the same config are reused, stopped ones resumed; anything else there is refused')
  .option('--p <list>', 'update probabilities in (0, 1]', parseProbabilities, [1, 0.5, 0.2, 0.1, 0.05])
  .option('--modes <list>', `among ${synthesizerModes.join(', ')}`, (v) => parseModes(v, synthesizerModes), [...synthesizerModes])
  .option('--budget <steps>', 'training steps per run (batches fed); lr ÷10 at 1/2 and 3/4 of them (default: 20 epochs, 8580 steps)', parseBudget)
  .option('--seed <seed>', 'seed of every run (default 1)', parseSeed)
  .option('--table-only', 'train nothing: write the table from the runs already in --out (finished, stopped or unfinished)')
  .addOption(new Option('--schedule <name>', 'schedule of every run (default async, window 4)').choices(['lockstep', 'async', 'pipelined']))
  .action(async (flags: Flags) => {
    await executeTable(
      (data) =>
        sweepTable({
          probabilities: flags.p,
          modes: flags.modes,
          layers: 4,
          outDir: flags.out,
          command: commandLine(),
          overrides: { budget: flags.budget, seed: flags.seed, schedule: flags.schedule },
          trainCount: data.train.count,
        }),
      {
        train: !flags.tableOnly,
        after: (table) => {
          const runs = table.cells.filter((c) => c.outcome?.summary).map((c) => c.dir);
          if (runs.length) process.stdout.write(`${writeReport(runs, join(table.outDir, 'report.html'), { force: true })}\n`); // the sweep's own report
        },
      },
    );
  });

runProgram(program);
