import { readFileSync } from 'node:fs';
import { configSchema, type Config, type ConfigInput } from './schema.js';
import { presets, presetNames, defaultPreset, type PresetName } from './presets.js';
import { ConfigError, describeIssues } from './errors.js';
import type { Labelling } from '../data/labels.js';

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge of plain objects; arrays and scalars from `over` replace those of `base`. */
export function mergeConfig(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeConfig(out[key] as Json, value) : value;
  }
  return out;
}

export function presetConfig(name: string): ConfigInput {
  if (!(presetNames as string[]).includes(name)) {
    throw new ConfigError('preset', [`preset: unknown preset "${name}"; choose one of ${presetNames.join(', ')}`]);
  }
  return structuredClone(presets[name as PresetName]) as ConfigInput;
}

/** Reads a JSON config file; a file with a "preset" field starts from that preset. */
export function readConfigFile(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid JSON: ${(error as Error).message}`]);
  }
  if (!isPlainObject(parsed)) throw new ConfigError(path, ['expected a JSON object at the top level']);
  return parsed;
}

/** Validates a config and fills in defaults; `source` names where it came from in errors. */
export function validateConfig(input: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) throw new ConfigError(source, describeIssues(result.error, input));
  return result.data;
}

export interface ConfigSources {
  preset?: string;
  /** A JSON file path, or an already parsed object. */
  file?: string | Json;
  /** Overrides (from flags), in config shape. */
  overrides?: Json;
}

/**
 * preset (or the file's "preset", or the default) <- file <- overrides, then validated. The config
 * is named after the preset only when one was named (--preset or the file's "preset"); a file
 * without one starts from the default preset's values but is a custom config.
 */
export function resolveConfig(sources: ConfigSources): Config {
  const fileJson = typeof sources.file === 'string' ? readConfigFile(sources.file) : sources.file;
  const source = typeof sources.file === 'string' ? sources.file : sources.file ? 'config object' : 'preset and flags';
  const named = sources.preset ?? (typeof fileJson?.preset === 'string' ? fileJson.preset : undefined);
  const presetName = named ?? (fileJson ? undefined : defaultPreset);
  let merged: Json = presetConfig(named ?? defaultPreset) as Json;
  if (fileJson) merged = mergeConfig(merged, fileJson);
  if (presetName) merged.preset = presetName;
  if (sources.overrides) merged = mergeConfig(merged, sources.overrides);
  const labels = sources.overrides?.labels;
  if (labels === 'low-high' || labels === 'odd-even') merged = withTwoClasses(merged, labels);
  return validateConfig(merged, source);
}

/**
 * A config on a two-class task made from the data set's classes (`labels` low-high or odd-even):
 * model.classes 2 and an output layer of 2 units, the rest as it was. What `--labels` does.
 */
export function withTwoClasses<T extends object>(config: T, labels: Exclude<Labelling, 'classes'>): T {
  const json = config as Json;
  if (!isPlainObject(json.model) || !Array.isArray(json.model.layers)) return { ...config, labels }; // the schema names what is missing
  const layers = [...(json.model.layers as unknown[])];
  const last = layers[layers.length - 1];
  if (isPlainObject(last)) layers[layers.length - 1] = { ...last, units: 2 };
  return { ...config, labels, model: { ...json.model, classes: 2, layers } };
}
