import { presets } from './presets.js';
import type { ConfigInput, Mode } from './schema.js';

/** The depths of the DNI paper's MNIST FCN rows ("N layers" counts the output layer). */
export const mnistFcnDepths = [3, 4, 5, 6] as const;
/** The DNI paper's columns. */
export const fcnModes = ['backprop', 'dni', 'cdni'] as const satisfies readonly Mode[];

/**
 * The 4-layer presets every row is built from: same layers, synthesizers and schedule. The other
 * gradient sources (docs/gradient-sources.md) start from backprop's (fa, dfa) or DNI's (bp-lambda:
 * its synthesizers, λ from 1 to 0 over the first half of the steps); kickback's is a two-class task
 * (digits 0-4 against 5-9).
 */
const fourLayer: Record<Mode, ConfigInput> = {
  backprop: presets['mnist-backprop'],
  dni: presets['mnist-dni'],
  cdni: presets['mnist-cdni'],
  fa: { ...presets['mnist-backprop'], mode: 'fa' },
  dfa: { ...presets['mnist-backprop'], mode: 'dfa' },
  'bp-lambda': { ...presets['mnist-dni'], mode: 'bp-lambda', lambda: { start: 1, end: 0, steps: 4290 } },
  kickback: presets['mnist-kickback'],
};

/** Preset-style name of a row and mode, e.g. `mnist-fcn5-cdni`. */
export function mnistFcnName(layers: number, mode: Mode): string {
  return `mnist-fcn${layers}-${mode}`;
}

/**
 * The DNI paper's MNIST FCN with `layers` layers (layers - 1 hidden layers of 256 with BatchNorm
 * and ReLU, then the linear output layer), one layer per stage, in `mode`: `dni` with a
 * synthesizer of 2 hidden layers of 1024 with BatchNorm, `cdni` with a linear one. Schedule and
 * optimizer are the `mnist-*` presets' (20 epochs of batch 128, Adam 1e-3 ÷10 at epochs 10 and
 * 15). `mnistFcn(4, mode)` is the preset `mnist-<mode>` under another name.
 */
export function mnistFcn(layers: number, mode: Mode): ConfigInput {
  if (!Number.isInteger(layers) || layers < 2) {
    throw new RangeError(`layers must be an integer of at least 2 (hidden layers plus the output layer), got ${layers}`);
  }
  const base = structuredClone(fourLayer[mode]) as ConfigInput;
  const [hidden] = base.model.layers;
  const output = base.model.layers[base.model.layers.length - 1];
  return {
    ...base,
    preset: mnistFcnName(layers, mode),
    model: { ...base.model, layers: [...Array.from({ length: layers - 1 }, () => ({ ...hidden })), output] },
  };
}
