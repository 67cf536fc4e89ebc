/**
 * How much the machine lets the stages run in parallel, with no messages at all: every stage's
 * real step loop (StageDriver, as in profile-stage) run in one thread one after another, and in
 * one free-running worker thread per stage, interleaved over repetitions.
 *
 *   node dist/scripts/stage-scaling.js [--preset mnist-cdni] [--steps 300] [--warmup 30]
 *        [--repetitions 3] [--batch-size N] [--backend wasm] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { resolveConfig } from '../src/config/resolve.js';
import { presetNames, defaultPreset } from '../src/config/presets.js';
import { runProgram } from '../src/cli/exit.js';
import type { BackendName } from '../src/config/schema.js';
import { effectiveWindow } from '../src/train.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { selectBackend } from '../src/runtime/backend.js';
import { positiveInt, wholeNumber } from '../src/cli/flags.js';
import { runFreeRunning, runOneThread } from '../src/lab/bench/free-running.js';
import { scalingReport, type ScalingRun } from '../src/lab/bench/scaling-figures.js';
import { scalingText } from '../src/lab/bench/scaling-text.js';
import { machineInfo } from '../src/lab/bench/machine.js';

interface Flags {
  preset: string;
  steps: number;
  warmup: number;
  repetitions: number;
  batchSize?: number;
  backend: BackendName;
  json?: string;
}

async function stageScaling(flags: Flags): Promise<void> {
  const config = resolveConfig({ preset: flags.preset, overrides: { backend: flags.backend, train: { batchSize: flags.batchSize } } });
  const specs = stageSpecs(config, effectiveWindow(config));
  const backend = await selectBackend(config.backend);
  const drive = { batchSize: config.train.batchSize, seed: config.train.seed, warmup: flags.warmup, steps: flags.steps };
  const runs: ScalingRun[] = [];
  for (let r = 1; r <= flags.repetitions; r++) {
    process.stderr.write(`stage-scaling: repetition ${r}/${flags.repetitions}: one thread...`);
    const oneThread = await runOneThread(specs, drive);
    process.stderr.write(' threads...');
    const threads = await runFreeRunning(specs, config.backend, drive);
    process.stderr.write(' done\n');
    runs.push({ oneThread, threads });
  }
  const report = scalingReport(runs, { steps: flags.steps, batchSize: drive.batchSize, cores: availableParallelism() });
  const heading = { preset: config.preset ?? flags.preset, mode: config.mode, backend: backend.name, warmup: flags.warmup };
  process.stdout.write(scalingText(report, heading) + '\n');
  if (flags.json) {
    const json = { format: 'synthgrad-stage-scaling/1', createdAt: new Date().toISOString(), ...heading, machine: machineInfo(), ...report, runs };
    writeFileSync(flags.json, JSON.stringify(json, null, 2) + '\n');
  }
}

const program = new Command('stage-scaling')
  .description('run every stage on synthetic inputs in one thread, then in one free-running worker thread each: CPU per step, samples/s, speedup')
  .addOption(new Option('--preset <name>', 'preset').choices(presetNames).default(defaultPreset))
  .option('--steps <n>', 'timed steps of every stage', positiveInt, 300)
  .option('--warmup <n>', 'untimed steps first', wholeNumber, 30)
  .option('--repetitions <n>', 'runs of both arrangements, interleaved', positiveInt, 3)
  .option('--batch-size <n>', "examples per batch (default: the preset's)", positiveInt)
  .addOption(new Option('--backend <name>', 'tfjs backend of every thread').choices(['auto', 'tensorflow', 'wasm', 'cpu']).default('wasm'))
  .option('--json <file>', 'also write the figures as JSON')
  .action(stageScaling);

runProgram(program);
