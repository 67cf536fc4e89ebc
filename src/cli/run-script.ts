import type { Command } from 'commander';
import { ConfigError } from '../config/errors.js';

/**
 * Runs a script's commander program on this process's arguments, then exits: 0 when it is done,
 * 2 for an unusable config (its message only), 1 for any other error (with its stack). Bad flag
 * values are refused by commander itself, naming the flag.
 */
export function runScript(program: Command): void {
  program.parseAsync(process.argv).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${program.name()}: ${error instanceof ConfigError ? error.message : ((error as Error)?.stack ?? String(error))}\n`);
      process.exit(error instanceof ConfigError ? 2 : 1);
    },
  );
}
