/**
 * Can a time synthesizer learn the future gradient of this network? Trains a fresh M (DNI at the
 * run's window T) toward its bootstrapped target on the network of a one-layer sequence run's
 * checkpoint, its LSTM frozen or learning at the rate given, and prints M's cosine with its
 * target and its loss every so many windows (docs/recurrent.md).
 *
 *   npm run build && node dist/scripts/time-synthesizer-probe.js --run runs/<run id> [--windows 3000]
 *        [--every 1000] [--lstm-lr 0] [--synthesizer-lr 0.001] [--synthesizer-layers 128]
 *        [--gradient-at state|h] [--length L]
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { runProgram } from '../src/cli/exit.js';
import { layerWidths, number, positiveInt } from '../src/cli/flags.js';
import { readSequenceCheckpoint, readSequenceConfig } from '../src/sequence/run.js';
import { probeTimeSynthesizer, type ProbeResult } from '../src/sequence/probe.js';
import { selectBackend } from '../src/runtime/backend.js';
import type { SavedTrainer } from '../src/sequence/trainer.js';

interface Flags {
  run: string;
  windows: number;
  every: number;
  lstmLr: number;
  synthesizerLr?: number;
  synthesizerLayers?: number[];
  gradientAt?: 'state' | 'h';
  length?: number;
}

function rate(value: string): number {
  const n = number(value);
  if (n < 0) throw new InvalidArgumentError(`expected a learning rate of 0 or more, got "${value}"`);
  return n;
}

function positiveRate(value: string): number {
  const n = number(value);
  if (n <= 0) throw new InvalidArgumentError(`expected a positive learning rate, got "${value}"`);
  return n;
}

function table(result: ProbeResult, copy: boolean): string {
  const head = ['windows', 'M cosine', 'M loss', 'window loss', ...(copy ? ['length', 'error (bits/sequence)'] : [])];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of result.rows) {
    const cells = [String(r.windows), r.cosine.toFixed(3), r.synthesizerLoss.toExponential(2), r.loss.toFixed(3)];
    if (copy) cells.push(String(r.length), r.error === null || Number.isNaN(r.error) ? '-' : r.error.toFixed(2));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function probe(flags: Flags): Promise<void> {
  const { dir, config } = readSequenceConfig(flags.run);
  if (config.layers !== 1) throw new Error(`${dir.path}: the probe takes one-layer runs; this run has ${config.layers} layers`);
  const saved = readSequenceCheckpoint(dir.path).checkpoint.trainer as SavedTrainer;
  const backend = await selectBackend(config.backend);
  const synthesizer = {
    ...config.synthesizer,
    ...(flags.synthesizerLr !== undefined && { learningRate: flags.synthesizerLr }),
    ...(flags.synthesizerLayers !== undefined && { hiddenLayers: flags.synthesizerLayers }),
    ...(flags.gradientAt !== undefined && { gradientAt: flags.gradientAt }),
  };
  const result = probeTimeSynthesizer(config, saved, { windows: flags.windows, every: flags.every, lstmLearningRate: flags.lstmLr, synthesizer, length: flags.length ?? null });
  const m = synthesizer.hiddenLayers.length ? `hidden ${synthesizer.hiddenLayers.join('x')}` : 'linear';
  process.stdout.write(
    `time-synthesizer-probe: ${dir.path} (${config.task}, T=${config.window}, ${config.units} units, checkpoint at window ${saved.step}) on ${backend.name}\n` +
      `  M: ${m}, Adam ${synthesizer.learningRate}, gradient at ${synthesizer.gradientAt}, discount ${synthesizer.discount}; LSTM learning rate ${flags.lstmLr}` +
      `${flags.lstmLr === 0 ? ' (frozen)' : ''}; largest change of an LSTM weight ${result.lstmDrift.toExponential(2)}\n\n` +
      table(result, config.task !== 'char-lm') +
      '\n',
  );
}

const program = new Command('time-synthesizer-probe')
  .description("train a fresh time synthesizer toward its bootstrapped target on a one-layer sequence run's network (frozen, or learning at --lstm-lr) and print its cosine with the target")
  .requiredOption('--run <dir>', 'a one-layer sequence run directory with a checkpoint.json')
  .option('--windows <n>', 'windows to train M on', positiveInt, 3000)
  .option('--every <n>', 'windows per printed row', positiveInt, 1000)
  .option('--lstm-lr <rate>', "the LSTM's and readout's Adam learning rate meanwhile (0: frozen)", rate, 0)
  .option('--synthesizer-lr <rate>', "M's Adam learning rate (default: the run's)", positiveRate)
  .option('--synthesizer-layers <widths>', "M's hidden widths, e.g. '128' ('' for linear; default: the run's)", layerWidths)
  .addOption(new Option('--gradient-at <where>', "where ĝ enters (default: the run's)").choices(['state', 'h']))
  .option('--length <L>', "copy tasks: the length of the probe's episodes (default: the checkpoint's curriculum length)", positiveInt)
  .action(probe);

runProgram(program);
