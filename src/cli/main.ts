#!/usr/bin/env node
import { Command } from 'commander';
import { trainCommand } from './train-command.js';
import { configCommand } from './config-command.js';
import { presetsCommand } from './presets-command.js';
import { reportCommand } from './report-command.js';
import { benchCommand } from './bench-command.js';
import { stageCommand } from './stage-command.js';
import { groupCommand } from './group-command.js';
import { sequenceCommand } from './sequence-command.js';
import { versions } from '../versions.js';
import { EXIT, runProgram } from './exit.js';

const program = new Command('synthgrad')
  .description('Decoupled Neural Interfaces (synthetic gradients), every stage in its own worker')
  .version(versions().synthgrad ?? 'unknown')
  .addCommand(trainCommand())
  .addCommand(presetsCommand())
  .addCommand(configCommand())
  .addCommand(reportCommand())
  .addCommand(benchCommand())
  .addCommand(stageCommand())
  .addCommand(groupCommand())
  .addCommand(sequenceCommand())
  .showSuggestionAfterError();

if (process.argv.length <= 2) {
  // no command: say what there is (exit 0) rather than start a long training
  program.outputHelp();
  process.exit(EXIT.ok);
}
runProgram(program, 'synthgrad');
