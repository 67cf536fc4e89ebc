import { BatchNorm } from './batchnorm.js';
import { Conv2D } from './conv.js';
import { ConditionedConv2D } from './conditioned-conv.js';
import { Dense, type DenseActivation } from './dense.js';
import { glorotUniform, glorotUniformConv } from './init.js';
import { shapeSize, type Layer } from './layer.js';
import { AvgPool2D, MaxPool2D } from './pool.js';
import { Flatten } from './reshape.js';
import { LstmLayer, type TimeSynthesizerSpec } from './lstm-layer.js';
import { conv2dOutputShape, pool2dOutputShape, type Padding } from './spatial.js';

/**
 * A fully connected layer; batchNorm default false, activation default 'relu' (with batchNorm:
 * 'relu' or 'linear'). Needs a flat input.
 */
export interface DenseSpec {
  type: 'dense';
  units: number;
  batchNorm?: boolean;
  activation?: DenseActivation;
}

/**
 * A 2-D convolution on [height, width, channels] inputs: kernelSize x kernelSize, stride default 1,
 * padding default 'same', batchNorm default false, activation default 'relu'.
 */
export interface Conv2DSpec {
  type: 'conv2d';
  filters: number;
  kernelSize: number;
  stride?: number;
  padding?: Padding;
  batchNorm?: boolean;
  activation?: 'relu' | 'linear';
}

/** Max or average pooling: poolSize x poolSize windows, stride default poolSize, padding default 'valid'. */
export interface PoolSpec {
  type: 'maxpool' | 'avgpool';
  poolSize: number;
  stride?: number;
  padding?: Padding;
}

/** [height, width, channels] -> [height * width * channels]. */
export interface FlattenSpec {
  type: 'flatten';
}

/**
 * An LSTM over windows of `streams` streams side by side (rows time-major), its state carried from
 * one window to the next; timeSynthesizer null: the gradient is cut at each window's end.
 */
export interface LstmSpec {
  type: 'lstm';
  units: number;
  streams: number;
  timeSynthesizer: TimeSynthesizerSpec | null;
}

export type LayerSpec = DenseSpec | Conv2DSpec | PoolSpec | FlattenSpec | LstmSpec;

export interface BuildOptions {
  /** Kernels start at zero instead of glorotUniform (rng is then not used). */
  zeroInit?: boolean;
  /** Name of the main layer; its batch norm is `${name}/batchnorm`. */
  name?: string;
  /**
   * conv2d: the input's last `labelChannels` channels are a one-hot label that forward takes as
   * its condition (a ConditionedConv2D, see there).
   */
  labelChannels?: number;
}

function unknownType(spec: never, where: string): never {
  throw new Error(`${where}: unknown layer type '${String((spec as { type: unknown }).type)}'`);
}

/** A number n stands for the flat shape [n]. */
function toShape(input: number | readonly number[]): number[] {
  return typeof input === 'number' ? [input] : [...input];
}

function imageShape(spec: LayerSpec, input: number | readonly number[]): number[] {
  const shape = toShape(input);
  if (shape.length !== 3) {
    throw new Error(
      `buildLayer: a ${spec.type} layer needs an input of shape [height, width, channels], got [${shape.join(', ')}]` +
        (typeof input === 'number' ? ` (${input} flat units: pass the image shape)` : ''),
    );
  }
  return shape;
}

/** The activation of a BatchNorm after a dense layer: it applies ReLU or none. */
function batchNormActivation(activation: DenseActivation): 'relu' | 'linear' {
  if (activation === 'relu' || activation === 'linear') return activation;
  throw new Error(`buildLayer: a batch-normalised dense layer takes activation 'relu' or 'linear', got '${activation}'`);
}

/**
 * The layers of one spec, on inputs of per-example shape `input` (a number n means the flat [n]).
 * Dense/conv2d with batch norm -> [Dense|Conv2D (linear, no bias), BatchNorm(activation)];
 * without -> [Dense|Conv2D (activation, bias)]. Kernel: glorotUniform(Conv) drawn from rng, or zeros
 * (zeroInit). Pooling and flatten have no parameters and do not draw from rng.
 * With opts.name, the main layer is named `name` and the batch norm `${name}/batchnorm`.
 */
export function buildLayer(
  spec: LayerSpec,
  input: number | readonly number[],
  rng: () => number,
  opts?: BuildOptions,
): Layer[] {
  const bnName = opts?.name === undefined ? undefined : `${opts.name}/batchnorm`;
  switch (spec.type) {
    case 'dense': {
      const shape = toShape(input);
      if (shape.length !== 1) {
        throw new Error(`buildLayer: a dense layer needs a flat input, got [${shape.join(', ')}]: put a { type: 'flatten' } layer before it`);
      }
      const inputUnits = shape[0];
      const activation = spec.activation ?? 'relu';
      const batchNorm = spec.batchNorm ?? false;
      const normActivation = batchNorm ? batchNormActivation(activation) : 'linear';
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
      return [dense, new BatchNorm({ units: spec.units, activation: normActivation, name: bnName })];
    }
    case 'conv2d': {
      const shape = imageShape(spec, input);
      const activation = spec.activation ?? 'relu';
      const batchNorm = spec.batchNorm ?? false;
      // checks filters, kernelSize, stride and padding before drawing the kernel
      const outShape = conv2dOutputShape(shape, spec.filters, spec.kernelSize, spec.stride, spec.padding);
      const init = opts?.zeroInit ? 'zeros' : glorotUniformConv(spec.kernelSize, shape[2], spec.filters, rng);
      const convOpts = {
        inputShape: shape,
        filters: spec.filters,
        kernelSize: spec.kernelSize,
        stride: spec.stride,
        padding: spec.padding,
        useBias: !batchNorm,
        activation: batchNorm ? 'linear' : activation,
        init,
        name: opts?.name,
      } as const;
      const classes = opts?.labelChannels ?? 0;
      const conv = classes > 0 ? new ConditionedConv2D({ ...convOpts, classes }) : new Conv2D(convOpts);
      if (!batchNorm) return [conv];
      return [conv, new BatchNorm({ units: spec.filters, inputShape: outShape, activation, name: bnName })];
    }
    case 'maxpool':
    case 'avgpool': {
      const shape = imageShape(spec, input);
      const poolOpts = { inputShape: shape, poolSize: spec.poolSize, stride: spec.stride, padding: spec.padding, name: opts?.name };
      return [spec.type === 'maxpool' ? new MaxPool2D(poolOpts) : new AvgPool2D(poolOpts)];
    }
    case 'flatten':
      return [new Flatten({ inputShape: toShape(input), name: opts?.name })];
    case 'lstm': {
      const shape = toShape(input);
      if (shape.length !== 1) throw new Error(`buildLayer: an lstm layer needs a flat input, got [${shape.join(', ')}]`);
      return [new LstmLayer({ inputUnits: shape[0], units: spec.units, streams: spec.streams, timeSynthesizer: spec.timeSynthesizer, rng, name: opts?.name })];
    }
    default:
      return unknownType(spec, 'buildLayer');
  }
}

/**
 * The layers of several specs in order, the output shape of each feeding the next.
 * `rngFor(i)` is the random stream of spec i (e.g. `(i) => stream(seed, 'init', 'layer', first + i)`;
 * `() => rng` to share one); `opts.name(i)` names spec i's layers (see buildLayer).
 */
export function buildLayers(
  specs: readonly LayerSpec[],
  inputShape: number | readonly number[],
  rngFor: (index: number) => () => number,
  opts?: { zeroInit?: boolean; name?: (index: number) => string },
): { layers: Layer[]; outputShape: number[] } {
  const layers: Layer[] = [];
  let shape = toShape(inputShape);
  specs.forEach((spec, i) => {
    const built = buildLayer(spec, shape, rngFor(i), { zeroInit: opts?.zeroInit, name: opts?.name?.(i) });
    layers.push(...built);
    shape = [...built[built.length - 1].outputShape];
  });
  return { layers, outputShape: shape };
}

/**
 * Per-example output shape of a spec on inputs of shape `input` (a number n means [n]); dense needs
 * no input shape. Throws for an input the spec cannot take (as buildLayer would).
 */
export function outputShape(spec: LayerSpec, input?: number | readonly number[]): number[] {
  switch (spec.type) {
    case 'dense':
    case 'lstm':
      if (input !== undefined && toShape(input).length !== 1) {
        throw new Error(`outputShape: a ${spec.type} layer needs a flat input, got [${toShape(input).join(', ')}]`);
      }
      return [spec.units];
    case 'conv2d':
      return conv2dOutputShape(needInput(spec, input), spec.filters, spec.kernelSize, spec.stride, spec.padding);
    case 'maxpool':
    case 'avgpool':
      return pool2dOutputShape(needInput(spec, input), spec.poolSize, spec.stride, spec.padding);
    case 'flatten':
      return [shapeSize(toShape(needInput(spec, input)))];
    default:
      return unknownType(spec, 'outputShape');
  }
}

function needInput(spec: LayerSpec, input: number | readonly number[] | undefined): number[] {
  if (input === undefined) throw new Error(`outputShape: a ${spec.type} layer needs the input shape`);
  return spec.type === 'flatten' ? toShape(input) : imageShape(spec, input);
}

/** Output width (flattened size) of a spec; every type but dense needs the input shape. */
export function outputUnits(spec: LayerSpec, input?: number | readonly number[]): number {
  return shapeSize(outputShape(spec, input));
}

/** Per-example output shape of several specs in order, from `inputShape`. */
export function outputShapeOf(specs: readonly LayerSpec[], inputShape: number | readonly number[]): number[] {
  let shape = toShape(inputShape);
  for (const spec of specs) shape = outputShape(spec, shape);
  return shape;
}
