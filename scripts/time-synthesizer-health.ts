/**
 * Whether a one-layer sequence run's time synthesizer M is still alive at its checkpoint: on the
 * boundary input M last saw, the hidden units inactive for every stream and the share of saturated
 * pre-activations, and the size of the LSTM's cell state (docs/recurrent.md, M's hidden units die).
 *
 *   npm run build && node dist/scripts/time-synthesizer-health.js --run runs/<run id>
 */
import { Command } from 'commander';
import { runProgram } from '../src/cli/exit.js';
import { readSequenceCheckpoint, readSequenceConfig } from '../src/sequence/run.js';
import { SATURATION, synthesizerHealth } from '../src/sequence/synthesizer-health.js';
import { selectBackend } from '../src/runtime/backend.js';
import type { SavedTrainer } from '../src/sequence/trainer.js';

async function health(flags: { run: string }): Promise<void> {
  const { dir, config } = readSequenceConfig(flags.run);
  const saved = readSequenceCheckpoint(dir.path).checkpoint.trainer as SavedTrainer;
  await selectBackend(config.backend);
  const h = synthesizerHealth(config, saved);
  const lines = h.hidden.map(
    (l, i) => `  hidden layer ${i} (${h.activation}, ${l.units} units): ${l.inactive} inactive for every stream; ${(100 * l.saturated).toFixed(1)}% of pre-activations beyond ±${SATURATION.toFixed(2)}`,
  );
  process.stdout.write(
    `time-synthesizer-health: ${dir.path} (${config.task}, T=${config.window}, checkpoint at window ${h.step}, ${config.batch} streams)\n` +
      (lines.length ? lines.join('\n') : '  M is linear: no hidden layer') +
      `\n  cell state |c|: mean ${h.cell.mean.toFixed(3)}, largest ${h.cell.max.toFixed(2)}\n`,
  );
}

const program = new Command('time-synthesizer-health')
  .description("a one-layer sequence run's time synthesizer at its checkpoint: inactive and saturated hidden units, and the cell state's size")
  .requiredOption('--run <dir>', 'a one-layer dni or dni+aux sequence run directory with a checkpoint.json')
  .action(health);

runProgram(program);
