import { presets } from './presets.js';
import { modes, type ConfigInput, type Mode } from './schema.js';

/** The depths of the DNI paper's MNIST FCN rows ("N layers" counts the output layer). */
export const mnistFcnDepths = [3, 4, 5, 6] as const;
export const fcnModes: readonly Mode[] = modes;

/** The 4-layer presets every row is built from: same layers, synthesizers and schedule. */
const fourLayer = { backprop: presets['mnist-backprop'], dni: presets['mnist-dni'], cdni: presets['mnist-cdni'] } as const;

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
