import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { ConfigError } from '../config/errors.js';
import { resolveConfig } from '../config/resolve.js';
import { presetNames } from '../config/presets.js';
import { measureLayerCosts } from '../lab/bench/layer-costs.js';
import { proposeGrouping } from '../pipeline/grouping.js';
import { describeLayer } from '../train.js';
import { layerOutputShapes } from '../config/layer-shapes.js';
import { positiveInt } from './flags.js';

interface GroupFlags {
  preset?: string;
  config?: string;
  stages: number;
  steps: number;
  cores: number;
  batchSize?: number;
}

export function groupCommand(): Command {
  return new Command('group')
    .description("measure each layer's cost in this thread and propose the grouping of layers into stages whose busiest stage is cheapest")
    .addOption(new Option('--preset <name>', 'start from a preset').choices(presetNames))
    .option('--config <file>', 'JSON config (a "preset" field in it starts from that preset)')
    .requiredOption('--stages <n>', 'number of stages to group the layers into', positiveInt)
    .option('--steps <n>', 'measured steps per layer', positiveInt, 30)
    .option('--cores <n>', 'cores the stages will share (for the bound)', positiveInt, availableParallelism())
    .option('--batch-size <n>', "examples per batch (default: the config's)", positiveInt)
    .action(async (flags: GroupFlags) => {
      const config = resolveConfig({ preset: flags.preset, file: flags.config, overrides: { train: { batchSize: flags.batchSize } } });
      const layers = config.model.layers.length;
      if (flags.stages > layers) throw new ConfigError('--stages', [`cannot make ${flags.stages} stages of a model with ${layers} layers`]);
      process.stderr.write(`measuring ${layers} layers, ${flags.steps} steps each ...\n`);
      const costs = await measureLayerCosts(config, flags.steps);
      const proposal = proposeGrouping(costs, flags.stages, flags.cores);
      const shapes = [config.model.inputShape, ...layerOutputShapes(config.model.inputShape, config.model.layers)];
      const lines = [
        `per-layer cost (ms per step of batch ${config.train.batchSize}, ${config.mode}, ${costs.backend}, medians of ${costs.steps} steps):`,
        ...config.model.layers.map(
          (_, i) => `  ${describeLayer(config, shapes, i).padEnd(34)} own ${costs.layer[i].toFixed(2).padStart(7)}   synthesizer at its output ${costs.interface[i].toFixed(2).padStart(6)}`,
        ),
        `proposed grouping into ${flags.stages} stages: ${JSON.stringify(proposal.groups)}`,
        `  predicted stage costs (ms): ${proposal.stageCosts.map((c) => c.toFixed(2)).join(', ')}`,
        `  bound on the speedup over running them one at a time: ${proposal.bound.toFixed(2)}x (min(${flags.cores} cores, sum / busiest))`,
        `use it with --stages '${JSON.stringify(proposal.groups)}' or "stages": ${JSON.stringify(proposal.groups)} in a config file.`,
        'Each stage boundary is a DNI interface (with its synthesizer), so the grouping changes what is trained, not only how fast.',
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
