import { BatchNorm } from './batchnorm.js';
import { Dense } from './dense.js';
import { glorotUniform } from './init.js';
import type { Layer } from './layer.js';

/** A fully connected layer; batchNorm default false, activation default 'relu'. */
export interface DenseSpec {
  type: 'dense';
  units: number;
  batchNorm?: boolean;
  activation?: 'relu' | 'linear';
}

/** Conv layers will be added later. */
export type LayerSpec = DenseSpec;

/**
 * The layers of one spec. Dense with batch norm -> [Dense(linear, no bias), BatchNorm(activation)];
 * without -> [Dense(activation, bias)]. Kernel: glorotUniform drawn from rng, or zeros (zeroInit).
 * With opts.name, the dense layer is named `name` and the batch norm `${name}/batchnorm`.
 */
export function buildLayer(
  spec: LayerSpec,
  inputUnits: number,
  rng: () => number,
  opts?: { zeroInit?: boolean; name?: string },
): Layer[] {
  switch (spec.type) {
    case 'dense': {
      const activation = spec.activation ?? 'relu';
      const batchNorm = spec.batchNorm ?? false;
      const init = opts?.zeroInit ? 'zeros' : glorotUniform(inputUnits, spec.units, rng);
      const dense = new Dense({
        inputUnits,
        units: spec.units,
        useBias: !batchNorm,
        activation: batchNorm ? 'linear' : activation,
        init,
        name: opts?.name,
      });
      if (!batchNorm) return [dense];
      const bn = new BatchNorm({
        units: spec.units,
        activation,
        name: opts?.name === undefined ? undefined : `${opts.name}/batchnorm`,
      });
      return [dense, bn];
    }
    default:
      throw new Error(`buildLayer: unknown layer type '${(spec as { type: unknown }).type}'`);
  }
}

/** Output width of a spec. */
export function outputUnits(spec: LayerSpec): number {
  switch (spec.type) {
    case 'dense':
      return spec.units;
    default:
      throw new Error(`outputUnits: unknown layer type '${(spec as { type: unknown }).type}'`);
  }
}
