import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig } from '../config/resolve.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/errors.js';

/** The resolved config an earlier run recorded in its config.json. */
export function readRunConfig(runDir: string): { config: Config; runId: string } {
  const file = join(runDir, 'config.json');
  if (!existsSync(file)) throw new ConfigError(file, ['missing: not a synthgrad run directory']);
  let recorded: { config?: unknown; runId?: unknown };
  try {
    recorded = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  if (typeof recorded?.runId !== 'string' || !recorded.config) throw new ConfigError(file, ['expected { runId, config } as written by synthgrad train']);
  return { config: validateConfig(recorded.config, file), runId: recorded.runId };
}
