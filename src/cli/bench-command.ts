import { Command, Option } from 'commander';
import { presetNames, defaultPreset } from '../config/presets.js';
import type { ConfigInput } from '../config/schema.js';
import { runBench, benchTable, settingName } from '../lab/bench/index.js';
import { positiveInt, stageGroups, wholeNumber } from './flags.js';

interface BenchFlags {
  steps: number;
  warmup?: number;
  repetitions: number;
  batchSize?: number;
  preset: string;
  out?: string;
  configs?: string[];
  stages?: unknown;
  reference?: boolean;
  python?: string;
  referenceTuning: boolean;
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('throughput of schedules side by side (interleaved repetitions), the parallelism bound, and the load of other processes')
    .option('--steps <n>', 'training steps per run', positiveInt, 300)
    .option('--warmup <n>', 'first steps of every run left out of its samples/s, rounded up to a multiple of 10 (default 100, at most a third of --steps)', wholeNumber)
    .option('--repetitions <n>', 'runs of every configuration, interleaved', positiveInt, 3)
    .option('--batch-size <n>', "examples per batch (default: the preset's)", positiveInt)
    .addOption(new Option('--preset <name>', 'preset every configuration starts from').choices(presetNames).default(defaultPreset))
    .option('--out <dir>', 'bench directory (default runs/bench-<timestamp>); must be new or empty')
    .option('--stages <json>', "layer indices of each stage, e.g. '[[0],[1,2,3]]' (default: the preset's)", stageGroups)
    .option(
      '--configs <list>',
      'mode/schedule,... (default backprop/lockstep,cdni/sequential,cdni/lockstep,cdni/async[,cdni/pipelined]); sequential: every stage in this thread, one after another',
      list,
    )
    .option('--reference', "also run the PyTorch reference (scripts/torch-reference.py: same model, batch and optimizer, in the fastest of the thread settings it tries first) of each mode, interleaved, and print every configuration's ratio to it, paired per repetition")
    .option('--python <path>', 'with --reference: a python that has torch (default: /usr/bin/python3, then python3 on the PATH)')
    .option('--no-reference-tuning', "with --reference: run PyTorch in the script's settings for the kind of model instead of trying several (threads, BLAS threads, OpenMP waits) before the runs and keeping the fastest")
    .action(async (flags: BenchFlags) => {
      const result = await runBench({
        preset: flags.preset,
        ...(flags.stages !== undefined && { config: { stages: flags.stages } as ConfigInput }),
        steps: flags.steps,
        warmup: flags.warmup,
        repetitions: flags.repetitions,
        batchSize: flags.batchSize,
        out: flags.out,
        configs: flags.configs,
        ...((flags.reference || flags.python) && { reference: { python: flags.python, tune: flags.referenceTuning } }),
        onRunStart: (run, total) => process.stderr.write(`[${run.index + 1}/${total}] ${run.config.name} repetition ${run.repetition} ...`),
        onRunEnd: (r) =>
          process.stderr.write(
            ` ${r.samplesPerSecond.toFixed(0)} samples/s` +
              (r.load.othersLoadCores === null ? '' : `, others' load ${Math.max(0, r.load.othersLoadCores).toFixed(2)} cores`) +
              '\n',
          ),
        onReferenceTrial: (mode, t) => process.stderr.write(`[reference settings] pytorch/${mode}, ${settingName(t.setting)}: ${t.samplesPerSecond.toFixed(0)} samples/s\n`),
        onReferenceEnd: (r) => process.stderr.write(` ${r.samplesPerSecond.toFixed(0)} samples/s (PyTorch ${r.torch}, ${r.threads} thread${r.threads === 1 ? '' : 's'})\n`),
      });
      process.stdout.write(benchTable(result) + '\n');
    });
}
