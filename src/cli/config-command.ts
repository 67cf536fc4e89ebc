import { Command } from 'commander';
import { resolveConfig } from '../config/resolve.js';
import { addConfigOptions } from './config-options.js';
import { flagsToConfig, type TrainFlags } from './flags.js';

/** `synthgrad config`: the fully resolved config (preset <- file <- flags, defaults filled in), as JSON; trains nothing. */
export function configCommand(): Command {
  return addConfigOptions(
    new Command('config').description('print the config that train would run with the same --preset, --config and flags (JSON, every default filled in); trains nothing'),
  ).action((flags: TrainFlags) => {
    const config = resolveConfig({ preset: flags.preset, file: flags.config, overrides: flagsToConfig(flags) });
    process.stdout.write(JSON.stringify(config, null, 2) + '\n');
  });
}
