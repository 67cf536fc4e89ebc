#!/usr/bin/env node
import { Command } from 'commander';
import { trainCommand } from './train-command.js';
import { ConfigError } from '../config/errors.js';
import { DataError } from '../data/index.js';
import { OutputError } from '../metrics/run-dir.js';
import { versions } from '../versions.js';

/** Errors the user can fix: one clear message, exit code 2. Anything else: the stack, exit code 1. */
function fail(error: unknown): never {
  if (error instanceof ConfigError || error instanceof DataError || error instanceof OutputError) {
    process.stderr.write(`synthgrad: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`synthgrad: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
}

const program = new Command('synthgrad')
  .description('Decoupled Neural Interfaces (synthetic gradients), every stage in its own worker')
  .version(versions().synthgrad ?? 'unknown')
  .addCommand(trainCommand(), { isDefault: true });

program.parseAsync(process.argv).then(
  () => process.exit(0),
  (error) => fail(error),
);
