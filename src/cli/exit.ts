import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/errors.js';
import { PathError } from '../path-error.js';
import { RunError } from '../train.js';

/**
 * The exit codes of every synthgrad command and script: 0 done; 1 a run or command that failed
 * while working (a run's checkpoint kept); 2 bad usage or input the user can fix (a flag, a
 * config, a file or folder they named). A signal that stopped a run: 128 + its number.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Errors the user can fix by changing their input: a config, or a file or folder they named. */
const userErrors = [ConfigError, PathError];

/** Makes commander throw (rather than exit 1) on a flag or command it refuses, in `command` and all its subcommands. */
export function throwOnUsageErrors(command: Command): Command {
  command.exitOverride();
  for (const sub of command.commands) throwOnUsageErrors(sub);
  return command;
}

/** The exit code for an error a command ended with. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage; // help and --version exit 0
  if (userErrors.some((kind) => error instanceof kind)) return EXIT.usage;
  return EXIT.failed;
}

/**
 * What to print for an error: nothing for commander's own (it has printed its message already),
 * the message alone for input errors and failed runs, the stack for anything unexpected.
 */
export function errorText(error: unknown): string | null {
  if (error instanceof CommanderError) return null;
  if (userErrors.some((kind) => error instanceof kind) || error instanceof RunError) return (error as Error).message;
  return (error as Error)?.stack ?? String(error);
}

/** Runs `program` on this process's arguments, then exits with the code of EXIT its end calls for. */
export function runProgram(program: Command, name = program.name()): void {
  throwOnUsageErrors(program);
  program.parseAsync(process.argv).then(
    () => process.exit(process.exitCode ?? EXIT.ok),
    (error: unknown) => {
      const text = errorText(error);
      if (text !== null) process.stderr.write(`${name}: ${text}\n`);
      process.exit(exitCodeOf(error));
    },
  );
}
