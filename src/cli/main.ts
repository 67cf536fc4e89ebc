#!/usr/bin/env node
import { Command } from 'commander';
import { trainCommand } from './train-command.js';
import { reportCommand } from './report-command.js';
import { benchCommand } from './bench-command.js';
import { stageCommand } from './stage-command.js';
import { groupCommand } from './group-command.js';
import { sequenceCommand } from './sequence-command.js';
import { ConfigError } from '../config/errors.js';
import { PathError } from '../path-error.js';
import { versions } from '../versions.js';
import { RunError } from '../train.js';

/**
 * Errors the user can fix by changing their input: a config, or a file or folder they named (data,
 * output, report, checkpoint).
 */
const userErrors = [ConfigError, PathError];

/**
 * Input the user can fix: one clear message, exit code 2. A run that failed (its checkpoint kept):
 * the message, exit code 1. Anything else: the stack, exit code 1.
 */
function fail(error: unknown): never {
  if (userErrors.some((kind) => error instanceof kind)) {
    process.stderr.write(`synthgrad: ${(error as Error).message}\n`);
    process.exit(2);
  }
  if (error instanceof RunError) {
    process.stderr.write(`synthgrad: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`synthgrad: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
}

const program = new Command('synthgrad')
  .description('Decoupled Neural Interfaces (synthetic gradients), every stage in its own worker')
  .version(versions().synthgrad ?? 'unknown')
  .addCommand(trainCommand(), { isDefault: true })
  .addCommand(reportCommand())
  .addCommand(benchCommand())
  .addCommand(stageCommand())
  .addCommand(groupCommand())
  .addCommand(sequenceCommand());

program.parseAsync(process.argv).then(
  () => process.exit(process.exitCode ?? 0),
  (error) => fail(error),
);
