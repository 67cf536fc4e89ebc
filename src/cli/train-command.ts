import { Command, Option } from 'commander';
import { resolveConfig } from '../config/resolve.js';
import { train, resume, type NatsRunOptions, type TrainOptions } from '../train.js';
import { placementOf, type Config } from '../config/schema.js';
import { TransportError } from '../transport/nats/nats-errors.js';
import { ConfigError } from '../config/errors.js';
import { parseFault } from '../run/fault.js';
import { createLogger } from '../log.js';
import { configFlagsGiven, flagsToConfig, positiveInt, type TrainFlags } from './flags.js';
import { addConfigOptions } from './config-options.js';
import { ProgressBar } from './progress.js';
import { epochLine, summaryText } from './report.js';
import { signalExitCode } from '../run/signal-exit.js';

export function trainCommand(): Command {
  return addConfigOptions(new Command('train').description('train a network in stage workers (backprop, DNI or cDNI)'))
    .option('--resume <run-dir>', 'continue a stopped run from its last checkpoint, with its own config')
    .addOption(new Option('--transport <kind>', 'ports: worker threads; nats: stage processes started with synthgrad stage join over --nats').choices(['ports', 'nats']))
    .option('--nats <url>', 'NATS server URL (credentials: SYNTHGRAD_NATS_TOKEN, SYNTHGRAD_NATS_USER/PASS or SYNTHGRAD_NATS_CREDENTIALS_FILE; TLS: SYNTHGRAD_NATS_TLS_CA, _CERT, _KEY; all in the environment)')
    .option('--run <id>', 'run id the stages join with (letters, digits, - and _; default: a new run id)')
    .option('--join-timeout <seconds>', 'how long stages may take to join over NATS', positiveInt, 60)
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('--no-progress', 'no progress bar, even on a terminal')
    .action(async (flags: TrainFlags) => {
      const fault = parseFault(process.env.SYNTHGRAD_FAULT);
      if (flags.resume) {
        const extra = configFlagsGiven(flags);
        if (extra.length) throw new ConfigError('flags', [`--resume continues with the run's own config; drop ${extra.join(', ')}`]);
      }
      const config = flags.resume ? null : resolveConfig({ preset: flags.preset, file: flags.config, overrides: flagsToConfig(flags) });
      const nats = natsOptions(flags, config);
      const bar = flags.progress && process.stderr.isTTY ? new ProgressBar() : null;
      const logger = createLogger({ level: bar ? 'warn' : flags.logLevel });
      const stop = new AbortController();
      let signalName: NodeJS.Signals | null = null;
      const onSignal = (name: NodeJS.Signals) => {
        if (signalName) process.exit(signalExitCode(name)); // a second signal: leave now
        signalName = name;
        logger.warn(`${name}: finishing the batches in flight, then checkpointing (again to quit at once)`);
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let checkpointWanted = false;
      const onCheckpointSignal = () => {
        logger.info('SIGUSR2: checkpoint requested');
        checkpointWanted = true;
      };
      process.on('SIGUSR2', onCheckpointSignal);
      const options: TrainOptions = {
        logger,
        signal: stop.signal,
        checkpointRequested: () => {
          const wanted = checkpointWanted;
          checkpointWanted = false;
          return wanted;
        },
        fault,
        nats,
        onProgress: bar ? (p) => bar.update(p) : undefined,
        onEpoch: bar ? (r) => bar.log(epochLine(r)) : undefined,
      };
      try {
        let summary;
        try {
          summary = flags.resume ? await resume(flags.resume, options) : await train(config!, options);
        } catch (error) {
          if (!(error instanceof TransportError)) throw error;
          bar?.stop();
          process.stderr.write(`synthgrad: ${error.message}\n`);
          process.exitCode = 1;
          return;
        }
        bar?.stop();
        process.stdout.write(summaryText(summary) + '\n');
        if (summary.stopped) {
          process.stdout.write(`  stopped at step ${summary.steps}; continue with: synthgrad train --resume ${summary.outDir}\n`);
          process.exitCode = signalExitCode(signalName ?? 'SIGINT');
        }
      } finally {
        bar?.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.off('SIGUSR2', onCheckpointSignal);
      }
    });
}

const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Stages over NATS, from the flags: `--transport nats` waits for stages to join `--nats`;
 * `--placement process` (or a config saying so) starts them here, on `--nats` or a local server.
 * Undefined: as the config's placement says (worker threads unless backend tensorflow).
 */
function natsOptions(flags: TrainFlags, config: Config | null): NatsRunOptions | undefined {
  const transport = flags.transport ?? (flags.nats ? 'nats' : undefined);
  const placement = flags.placement ?? config?.placement;
  if (flags.run !== undefined && !RUN_ID.test(flags.run)) throw new ConfigError('--run', [`--run: 1-64 letters, digits, - or _, got "${flags.run}"`]);
  const common = {
    url: flags.nats,
    runId: flags.run,
    joinTimeoutMs: flags.joinTimeout * 1000,
  };
  if (transport === 'ports') {
    if (placement === 'process') throw new ConfigError('flags', ['--transport ports runs stages in worker threads: drop --placement process (or use --transport nats)']);
    if (flags.run !== undefined) throw new ConfigError('flags', ['--run names a run over NATS: use it with --transport nats or --placement process']);
    return undefined;
  }
  if (transport === 'nats') {
    const spawn = placement === 'process';
    if (!spawn && !flags.nats) {
      throw new ConfigError('flags', ['--transport nats needs --nats URL (the server the stages join), or --placement process to start the stages and a local server here']);
    }
    return { stages: spawn ? 'spawn' : 'join', ...common };
  }
  if (placement === 'process' || (config && placementOf(config) === 'process')) return { stages: 'spawn', ...common };
  if (flags.run !== undefined) throw new ConfigError('flags', ['--run names a run over NATS: use it with --transport nats or --placement process']);
  return undefined;
}
