import { Command, Option } from 'commander';
import { createLogger } from '../log.js';
import { positiveInt, wholeNumber } from './flags.js';
import { runNatsStage } from '../transport/nats/nats-stage.js';

interface StageFlags {
  nats: string;
  run: string;
  stage: number;
  joinTimeout: number;
  instance?: string;
  exitWithStdin?: boolean;
  logLevel: string;
}

/**
 * `synthgrad stage`: one stage of a run, in this process, over NATS. Credentials and TLS files come
 * from the environment (SYNTHGRAD_NATS_TOKEN, SYNTHGRAD_NATS_USER + SYNTHGRAD_NATS_PASS, or
 * SYNTHGRAD_NATS_CREDENTIALS_FILE; SYNTHGRAD_NATS_TLS_CA, _CERT, _KEY), never from the command line.
 */
export function stageCommand(): Command {
  return new Command('stage')
    .description('serve one stage of a run over NATS (start one per stage, then synthgrad train --transport nats)')
    .requiredOption('--nats <url>', 'NATS server URL, e.g. nats://10.0.0.5:4222 (credentials: SYNTHGRAD_NATS_TOKEN etc.; TLS: SYNTHGRAD_NATS_TLS_CA etc., in the environment)')
    .requiredOption('--run <id>', 'run id, as given to synthgrad train --run')
    .requiredOption('--stage <k>', 'stage index (0 = the input stage)', wholeNumber)
    .option('--join-timeout <seconds>', 'give up when no orchestrator takes this stage within this time', positiveInt, 600)
    .addOption(new Option('--instance <id>', 'instance id (set by the orchestrator for processes it starts)').hideHelp())
    .addOption(new Option('--exit-with-stdin', 'exit when stdin closes (processes the orchestrator starts)').hideHelp())
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .action(async (flags: StageFlags) => {
      const logger = createLogger({ level: flags.logLevel });
      if (flags.exitWithStdin) {
        // the orchestrator holds the other end: when it dies, leave
        process.stdin.on('end', () => process.exit(1));
        process.stdin.on('error', () => process.exit(1));
        process.stdin.resume();
      }
      let outcome;
      try {
        outcome = await runNatsStage({
          url: flags.nats,
          run: flags.run,
          stage: flags.stage,
          joinTimeoutMs: flags.joinTimeout * 1000,
          instance: flags.instance,
          logger,
        });
      } catch (error) {
        outcome = { code: 2, reason: (error as Error).message };
      }
      if (outcome.code === 0) logger.info(outcome.reason);
      else process.stderr.write(`synthgrad stage: ${outcome.reason}\n`);
      process.exitCode = outcome.code;
    });
}
