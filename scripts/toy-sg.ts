/**
 * Czarnecki et al. 2017's toy experiments (src/lab/toy/czarnecki.ts): a linear and a deep linear
 * model with MSE, trained by backprop and by a synthetic gradient, reach the same solution; a
 * linear synthetic gradient with log loss does not, one whose output passes through a sigmoid does.
 * Prints a markdown table (a few seconds).
 *
 *   npm run build && node dist/scripts/toy-sg.js
 */
import { Command } from 'commander';
import { runProgram } from '../src/cli/exit.js';
import { seed as parseSeed } from '../src/cli/flags.js';
import { commandLine } from '../src/lab/paper/execute.js';
import { toyMarkdown, toyRows } from '../src/lab/toy/czarnecki.js';

const program = new Command('toy-sg')
  .description("Czarnecki et al.'s toy experiments: backprop and synthetic gradients on linear models, MSE and log loss")
  .option('--seed <seed>', 'seed of the data and the initial weights', parseSeed, '1')
  .action((flags: { seed: number | string }) => {
    process.stdout.write(toyMarkdown(toyRows(String(flags.seed)), commandLine()));
  });

runProgram(program);
