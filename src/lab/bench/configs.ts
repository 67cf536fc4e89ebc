import { resolveConfig } from '../../config/resolve.js';
import { ConfigError } from '../../config/errors.js';
import type { Config, ConfigInput } from '../../config/schema.js';
import type { BenchConfigName } from './plan.js';

/** What every benchmarked configuration starts from: a preset, or a config object (tests use a small model). */
export interface BenchBase {
  preset?: string;
  config?: ConfigInput | Config;
}

export interface RunSettings {
  steps: number;
  batchSize?: number;
  out: string;
}

/**
 * The config of one bench run: the base with the configuration's mode and schedule, `steps` steps,
 * its own run directory.
 */
export function benchConfig(base: BenchBase, name: Pick<BenchConfigName, 'name' | 'mode' | 'configSchedule' | 'inThread'>, run: RunSettings): Config {
  const config = resolveConfig({
    preset: base.preset,
    file: base.config as Record<string, unknown> | undefined,
    overrides: {
      mode: name.mode,
      out: run.out,
      // epochs large enough that maxSteps ends the run (the learning-rate schedule counts steps, not epochs)
      train: { schedule: name.configSchedule, maxSteps: run.steps, epochs: run.steps, batchSize: run.batchSize },
    },
  });
  if (name.inThread && config.syntheticInputs) {
    throw new ConfigError('--configs', [`${name.name}: the in-thread runner does not drive complete unlock (syntheticInputs)`]);
  }
  return config;
}

/** True when the config schema accepts `schedule` for this base (e.g. 'pipelined' once it exists). */
export function scheduleAccepted(base: BenchBase, schedule: string): boolean {
  try {
    benchConfig(base, { name: `cdni/${schedule}`, mode: 'cdni', configSchedule: schedule, inThread: false }, { steps: 1, out: 'unused' });
    return true;
  } catch {
    return false;
  }
}
