import { Option, type Command } from 'commander';
import { presetNames, defaultPreset } from '../config/presets.js';
import { modes, stageModeChoices } from '../config/schema.js';
import { labellings } from '../data/index.js';
import { lambdaSchedule, modeList, number, positiveInt, seed, stageGroups, wholeNumber } from './flags.js';

/**
 * The flags that make a run's config (preset, config file and each field a flag can set), shared by
 * `synthgrad train` and `synthgrad config`, which prints the config they resolve to.
 */
export function addConfigOptions(command: Command): Command {
  return command
    .addOption(new Option('--preset <name>', `start from a preset (default ${defaultPreset})`).choices(presetNames))
    .option('--config <file>', 'JSON config (a "preset" field in it starts from that preset)')
    .addOption(new Option('--mode <mode>', 'training mode: where each stage gets its gradient (docs/gradient-sources.md)').choices(modes))
    .option('--stage-modes <list>', `each stage's own mode, one per stage (among ${stageModeChoices.join(', ')}), e.g. cdni,backprop,cdni,backprop`, modeList)
    .option('--lambda <schedule>', 'bp-lambda: λ constant (0.5) or start:end:steps (1:0:2000, linear)', lambdaSchedule)
    .addOption(new Option('--labels <task>', "the data set's classes, or two classes made from them: low-high (0-4 against 5-9), odd-even; sets model.classes and the output layer to 2").choices(labellings))
    .option('--epochs <n>', 'epochs', positiveInt)
    .option('--batch-size <n>', 'examples per batch', positiveInt)
    .option('--lr <rate>', 'Adam learning rate', number)
    .option('--seed <seed>', 'seed of every random stream', seed)
    .addOption(new Option('--backend <name>', 'tfjs backend in each stage').choices(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']))
    .addOption(new Option('--schedule <name>', 'lockstep (one batch at a time, repeatable), async (free-running) or pipelined (parallel and repeatable)').choices(['lockstep', 'async', 'pipelined']))
    .option('--window <n>', 'batches in flight with --schedule async or pipelined', positiveInt)
    .option('--update-probability <p>', 'probability that a stage updates on a batch (dni/cdni)', number)
    .option('--stages <json>', "layer indices of each stage, e.g. '[[0],[1,2,3]]' (default: one layer per stage; synthgrad group proposes one)", stageGroups)
    .option('--max-steps <n>', 'stop after this many training steps', positiveInt)
    .option('--data <dir>', 'folder with the four MNIST IDX files or the CIFAR-10 binary files data_batch_1..5.bin, test_batch.bin (default: bundled MNIST)')
    .option('--out <dir>', 'run directory (default runs/<run id>); must be new or empty')
    .option('--checkpoint-every <n>', 'also checkpoint every n steps (always at the end of each epoch)', positiveInt)
    .option('--eval-every <n>', 'also evaluate the test set every n steps (metrics.jsonl eval lines; time to accuracy between epoch ends)', positiveInt)
    .option('--probe-every <n>', 'every n steps, compare the gradient each stage uses with the true one on a probe batch (metrics.jsonl probe lines)', positiveInt)
    .option('--max-restarts <n>', 'stage failures to survive by restarting the stage (default 3)', wholeNumber)
    .option('--skip-nonfinite', 'drop a batch with a NaN/Inf loss, activation or gradient instead of stopping')
    .addOption(new Option('--placement <where>', 'stages in worker threads, or one child process each over NATS (default thread; process with --backend tensorflow)').choices(['thread', 'process']));
}
