import { Command } from 'commander';
import { defaultPreset, presetNames, presetSummaries } from '../config/presets.js';

/** `synthgrad presets`: each preset's name and what it trains, one line each. */
export function presetsCommand(): Command {
  return new Command('presets').description('list the presets, one line each (synthgrad config --preset NAME prints one in full)').action(() => {
    const width = Math.max(...presetNames.map((n) => n.length));
    const lines = presetNames.map((name) => `${name.padEnd(width)}  ${presetSummaries[name]}`);
    process.stdout.write(`${lines.join('\n')}\n\nsynthgrad train --preset NAME trains one (default ${defaultPreset}); synthgrad config --preset NAME prints its whole config.\n`);
  });
}
