import type { Labelling } from '../data/labels.js';

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
