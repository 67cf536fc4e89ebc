/**
 * The DNI paper's MNIST FCN table: 3, 4, 5 and 6 layers × backprop, DNI, cDNI, one run each,
 * trained one after the other; writes the table into <out> (markdown and JSON).
 *
 *   npm run build
 *   node dist/scripts/reproduce-paper.js --out /tmp/paper-runs/fcn --layers 4
 *   node dist/scripts/reproduce-paper.js --out /tmp/paper-runs/fcn-short --layers 3,5,6 --budget 1287
 */
import { Command, Option } from 'commander';
import { runProgram } from '../src/cli/exit.js';
import { fcnModes, mnistFcnDepths } from '../src/config/mnist-fcn.js';
import type { Mode, Schedule } from '../src/config/schema.js';
import { parseBudget, parseLayers, parseModes } from '../src/lab/paper/arguments.js';
import { seed as parseSeed } from '../src/cli/flags.js';
import { commandLine, executeTable } from '../src/lab/paper/execute.js';
import { fcnTable } from '../src/lab/paper/fcn-table.js';

interface Flags {
  out: string;
  layers: number[];
  modes: Mode[];
  budget?: number;
  seed?: number | string;
  schedule?: Schedule;
  tableOnly?: boolean;
}

const program = new Command('reproduce-paper')
  .description("train the DNI paper's MNIST FCN rows (backprop, DNI, cDNI) and write the table (markdown, JSON)")
  .requiredOption('--out <dir>', 'folder of the table; each cell trains in <out>/fcn<layers>-<mode>. Finished cells of the same config are reused, stopped ones resumed; anything else there is refused')
  .option('--layers <list>', `rows: depths among ${mnistFcnDepths.join(', ')} (layers counts the output layer)`, (v) => parseLayers(v, mnistFcnDepths), [...mnistFcnDepths])
  .option('--modes <list>', `columns: among ${fcnModes.join(', ')}`, (v) => parseModes(v, fcnModes), [...fcnModes])
  .option('--budget <steps>', 'training steps per run; lr ÷10 at 1/2 and 3/4 of them (default: the presets\' 20 epochs, 8580 steps)', parseBudget)
  .option('--seed <seed>', 'seed of every run (default: the presets\', 1)', parseSeed)
  .option('--table-only', 'train nothing: write the table from the runs already in --out (finished, stopped or unfinished)')
  .addOption(new Option('--schedule <name>', "schedule of every run (default: the presets' async, window 4)").choices(['lockstep', 'async', 'pipelined']))
  .action(async (flags: Flags) => {
    await executeTable((data) =>
      fcnTable({
        layers: flags.layers,
        modes: flags.modes,
        outDir: flags.out,
        command: commandLine(),
        overrides: { budget: flags.budget, seed: flags.seed, schedule: flags.schedule },
        trainCount: data.train.count,
      }),
      { train: !flags.tableOnly },
    );
  });

runProgram(program);
