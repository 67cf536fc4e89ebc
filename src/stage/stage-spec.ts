import type { Config, LayerConfig, Mode } from '../config/schema.js';
import { shapeSize } from '../model/layer.js';
import { layerOutputShapes } from '../config/layer-shapes.js';

/** Everything a stage worker needs to build its part of the network: plain data, so it crosses threads. */
export interface StageSpec {
  index: number;
  count: number;
  mode: Mode;
  schedule: Config['train']['schedule'];
  /** Global index of this stage's first layer (weights are seeded per global layer). */
  firstLayer: number;
  layers: LayerConfig[];
  /** Per-example shape of the stage's input interface h[s-1] (stage 0: the data), e.g. [784] or [14, 14, 16]. */
  inputShape: number[];
  /** Flat width of the input: the product of inputShape (messages carry rows x inputUnits floats). */
  inputUnits: number;
  /** Per-example shape of the output interface h[s] (the last stage: [classes]). */
  outputShape: number[];
  classes: number;
  synthesizer: Config['synthesizer'];
  /** bp-lambda: λ's schedule (absent in other modes). */
  lambda?: NonNullable<Config['lambda']>;
  /** Complete unlock: this stage's input model I[s] (null for stage 0 and without syntheticInputs). */
  syntheticInputs: NonNullable<Config['syntheticInputs']> | null;
  /** The run is completely unlocked (config.syntheticInputs): targets may come before the batch they are for. */
  unlocked: boolean;
  /** Width of the data x (what I[s] reads). */
  dataUnits: number;
  optimizer: Config['optimizer'];
  updateProbability: number;
  seed: string;
  /** Largest number of batches whose targets the stage may wait for at once. */
  cacheSize: number;
  backend: Config['backend'];
  /** Drop a batch that produces a NaN or Inf instead of stopping the run. */
  skipNonFinite: boolean;
  /** A checkpoint file to continue from. */
  restore?: string;
  /** The checkpoint's bytes themselves (sent to a stage process that cannot read `restore`). */
  restoreState?: Uint8Array;
  /** Testing aid: make this stage fail on purpose (SYNTHGRAD_FAULT). */
  fault?: Fault;
}

/** A deliberate failure at a training step: an exception, the worker exiting, or a NaN in the activations. */
export interface Fault {
  stage: number;
  step: number;
  kind: 'throw' | 'exit' | 'nan';
}

export function isLast(spec: StageSpec): boolean {
  return spec.index === spec.count - 1;
}

/** `done` reports a training step needs from every stage: two from an unlocked stage (its own pass on x_t, the real input). */
export function doneReportsPerStep(specs: readonly StageSpec[]): number {
  return specs.reduce((n, spec) => n + (spec.syntheticInputs ? 2 : 1), 0);
}

/** Layer indices of each stage: the config's grouping, or one layer per stage. */
export function stageGrouping(config: Config): number[][] {
  return config.stages ?? config.model.layers.map((_, i) => [i]);
}

export function stageSpecs(config: Config, window: number): StageSpec[] {
  const groups = stageGrouping(config);
  const shapes = [config.model.inputShape, ...layerOutputShapes(config.model.inputShape, config.model.layers)];
  return groups.map((layerIndices, index) => ({
    index,
    count: groups.length,
    mode: config.stageModes?.[index] ?? config.mode,
    schedule: config.train.schedule,
    firstLayer: layerIndices[0],
    layers: layerIndices.map((i) => config.model.layers[i]),
    inputShape: shapes[layerIndices[0]],
    inputUnits: shapeSize(shapes[layerIndices[0]]),
    outputShape: shapes[layerIndices[layerIndices.length - 1] + 1],
    classes: config.model.classes,
    synthesizer: config.synthesizer,
    ...(config.lambda && { lambda: config.lambda }),
    syntheticInputs: index > 0 ? (config.syntheticInputs ?? null) : null,
    unlocked: config.syntheticInputs !== undefined,
    dataUnits: config.model.inputUnits,
    optimizer: config.optimizer,
    updateProbability: config.train.updateProbability,
    seed: String(config.train.seed),
    cacheSize: window + 2,
    backend: config.backend,
    skipNonFinite: config.train.skipNonFinite,
  }));
}
