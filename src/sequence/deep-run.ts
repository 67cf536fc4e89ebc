import { performance } from 'node:perf_hooks';
import { configSchema, type Config } from '../config/schema.js';
import type { Batch } from '../data/index.js';
import { commitCheckpoint, configHash, readCheckpoint, stageFiles, type RunProgress } from '../checkpoint/manifest.js';
import type { RunDir } from '../metrics/run-dir.js';
import { Pipeline, type TrainStepResult } from '../pipeline/pipeline.js';
import type { StageHost } from '../pipeline/stage-host.js';
import { stageSpecs } from '../stage/stage-spec.js';
import { ThreadStageHost } from '../transport/threads/thread-host.js';
import { NatsStageHost } from '../transport/nats/nats-stage-host.js';
import { silentLogger } from '../log.js';
import { TextStreams } from './char-lm.js';
import { EVAL_STEPS } from './build.js';
import { loadCorpus, type Corpus } from './corpus.js';
import type { SequenceConfig } from './config.js';
import type { SequenceRecord, SequenceResult } from './protocol.js';
import type { StageStats } from '../stage/protocol.js';
import type { SequenceRunOptions } from './run.js';

/**
 * The pipeline's config of a deep character model: `layers` LSTM layers of `units`, one stage each
 * (the last with the linear readout), every row of a batch one (time step, stream) of a window of
 * T steps of B streams, time-major. Depth: 'dni' puts a synthesizer between stages (on each row's
 * activations: the gradient of a window's h_t), 'backprop' sends true gradients. Time: mode 'dni'
 * gives each LSTM layer its own time synthesizer at the window's end, 'bptt' cuts there.
 */
export function deepPipelineConfig(config: SequenceConfig, vocabulary: number): Config {
  const timeSynthesizer = config.mode === 'bptt' ? null : { hiddenLayers: config.synthesizer.hiddenLayers, activation: config.synthesizer.activation, discount: config.synthesizer.discount };
  const lstm = { type: 'lstm' as const, units: config.units, streams: config.batch, timeSynthesizer };
  const layers = [...Array.from({ length: config.layers }, () => lstm), { type: 'dense' as const, units: vocabulary, activation: 'linear' as const, batchNorm: false }];
  const stages = Array.from({ length: config.layers }, (_, i) => (i === config.layers - 1 ? [i, i + 1] : [i]));
  return configSchema.parse({
    mode: config.depth,
    model: { inputShape: [vocabulary], classes: vocabulary, layers },
    stages,
    synthesizer: { hiddenLayers: [], learningRate: config.synthesizer.learningRate },
    optimizer: { learningRate: config.learningRate },
    train: {
      epochs: 1,
      batchSize: config.window * config.batch,
      maxSteps: config.maxSteps,
      schedule: config.schedule,
      window: config.inFlight,
      seed: config.seed,
      evalBatchSize: EVAL_STEPS * config.batch,
      logEvery: config.logEvery,
    },
    backend: config.backend,
  });
}

/** A window of the streams as a batch: one-hot characters in, the next character's index as the label. */
function windowBatch(streams: TextStreams, steps: number, vocabulary: number): Batch {
  const w = streams.next(steps);
  const rows = steps * w.batch;
  const labels = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) labels[r] = w.y.subarray(r * vocabulary, (r + 1) * vocabulary).indexOf(1);
  return { x: w.x, labels, size: rows };
}

/** Windows of EVAL_STEPS of a split in B streams from its start: the first `chars` characters (0: all). */
function* evalBatches(corpus: Corpus, split: 'valid' | 'test', batch: number, chars: number): Generator<Batch> {
  const V = corpus.vocabulary.length;
  const streams = new TextStreams(corpus[split], V, batch);
  const whole = streams.windowsPerPass(EVAL_STEPS);
  const windows = chars > 0 ? Math.min(whole, Math.ceil(chars / (EVAL_STEPS * batch))) : whole;
  for (let w = 0; w < windows; w++) yield windowBatch(streams, EVAL_STEPS, V);
}

/**
 * The orchestrator's progress, with the running sums of the next metrics line: per stage, the time
 * synthesizer's and the depth synthesizer's loss and cosine, weighted by the windows they cover.
 */
type DeepProgress = RunProgress & { figures: { windows: number; sums: Record<FigureKey, (number | null)[]> } };
const figureKeys = ['timeSynthesizerLoss', 'timeSynthesizerCosine', 'synthesizerLoss', 'synthesizerCosine'] as const;
type FigureKey = (typeof figureKeys)[number];

function freshFigures(stages: number): DeepProgress['figures'] {
  return { windows: 0, sums: Object.fromEntries(figureKeys.map((k) => [k, new Array<number>(stages).fill(0)])) as Record<FigureKey, (number | null)[]> };
}

function freshProgress(stages: number): DeepProgress {
  return {
    step: 0, epoch: 1, stepInEpoch: 0, samples: 0, trainMs: 0, wallMs: 0, epochLoss: 0, epochCorrect: 0, epochRows: 0,
    recentLoss: 0, recentCorrect: 0, recentRows: 0, recentSteps: 0, val: null, test: null, restarts: 0, lostSteps: 0,
    figures: freshFigures(stages),
  };
}

/** The stages' figures since they were last asked, `windows` windows of them, into the sums. */
function addFigures(p: DeepProgress, stats: StageStats[], windows: number): void {
  if (windows === 0) return;
  for (const key of figureKeys) {
    const sums = p.figures.sums[key];
    // null: the stage has no such synthesizer (or it has not trained yet), and stays null for the line
    stats.forEach((s, i) => (sums[i] = s[key] == null || sums[i] === null ? null : sums[i] + s[key] * windows));
  }
  p.figures.windows += windows;
}

/** Per stage means of the sums (null where a stage has no such synthesizer), and their mean over the stages. */
function figureMeans(p: DeepProgress): Record<string, number | null | (number | null)[]> {
  const n = p.figures.windows;
  const per = (key: FigureKey) => p.figures.sums[key].map((v) => (n && v !== null ? v / n : null));
  const mean = (values: (number | null)[]) => {
    const known = values.filter((v): v is number => v !== null);
    return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
  };
  const time = { loss: per('timeSynthesizerLoss'), cosine: per('timeSynthesizerCosine') };
  return {
    // at the time boundary, over the layers (the figures a one-layer run writes under these names)
    synthesizerLoss: mean(time.loss),
    synthesizerCosine: mean(time.cosine),
    timeSynthesizerLoss: time.loss,
    timeSynthesizerCosine: time.cosine,
    depthSynthesizerLoss: per('synthesizerLoss'),
    depthSynthesizerCosine: per('synthesizerCosine'),
  };
}

/**
 * Trains (or, `resume`, continues from the last checkpoint) a deep character model with one stage
 * per LSTM layer in the feed-forward pipeline: worker threads or NATS processes, lockstep or async,
 * checkpoints of every stage (weights, optimizer, the carried state) and a manifest. Window k of
 * each stream is the same whatever the schedule, so a resumed lockstep run is the uninterrupted one.
 */
export async function driveDeep(
  dir: RunDir,
  runId: string,
  config: SequenceConfig,
  resume: boolean,
  options: SequenceRunOptions,
): Promise<Omit<SequenceResult, 'backend'> & { backend: string; last: SequenceRecord | null; wallSeconds: number }> {
  const started = performance.now();
  const corpus = loadCorpus(config.charLm.data);
  const V = corpus.vocabulary.length;
  const pipelineConfig = deepPipelineConfig(config, V);
  const checkpoint = resume ? readCheckpoint(dir.path, pipelineConfig, config.layers) : null;
  if (checkpoint) dir.truncateMetrics(checkpoint.manifest.progress.step);
  const p: DeepProgress = checkpoint ? { figures: freshFigures(config.layers), ...(checkpoint.manifest.progress as Partial<DeepProgress>) } as DeepProgress : freshProgress(config.layers);
  const priorWallMs = p.wallMs ?? 0;
  const T = config.window;
  const streams = new TextStreams(corpus.train, V, config.batch);
  // each stream has read T characters a window (its position wraps at its segment's end)
  streams.advance(p.step * T);
  let last: SequenceRecord | null = null;
  const onStep = (r: TrainStepResult) => {
    p.recentLoss += r.loss;
    p.recentSteps += 1;
    p.recentRows += r.rows;
    p.recentCorrect += r.correct;
  };
  /** The metrics line of the windows since the last (every window's work is done). */
  const record = () => {
    const loss = p.recentLoss / p.recentSteps;
    const { synthesizerLoss, synthesizerCosine, ...perStage } = figureMeans(p);
    last = {
      step: p.step,
      timeSteps: p.step * T,
      loss,
      trainBpc: loss / Math.LN2,
      accuracy: p.recentCorrect / p.recentRows,
      synthesizerLoss: synthesizerLoss as number | null,
      synthesizerCosine: synthesizerCosine as number | null,
      auxLoss: null,
      seconds: (p.trainMs + performance.now() - segment) / 1000,
    };
    dir.metric({ ...last, ...perStage });
    options.onRecord?.(last);
    p.recentLoss = p.recentSteps = p.recentRows = p.recentCorrect = 0;
    p.figures = freshFigures(config.layers);
  };
  let segment = performance.now();
  const host: StageHost =
    config.transport === 'nats'
      ? new NatsStageHost({ stages: 'spawn', runId: runId.replace(/[^A-Za-z0-9_-]/g, '-'), maxRows: Math.max(T, EVAL_STEPS) * config.batch, logger: silentLogger })
      : new ThreadStageHost();
  const window = config.schedule === 'async' && config.depth !== 'backprop' ? config.inFlight : 1;
  const specs = stageSpecs(pipelineConfig, window).map((spec) => ({ ...spec, ...(checkpoint && { restore: checkpoint.files[spec.index] }) }));
  const pipeline = await Pipeline.start(specs, { onStep }, host);
  try {
    // lockstep: the stages' figures every window, so that a line is the same however the run was cut; async: every line
    const statsEvery = window === 1 ? 1 : config.logEvery;
    let statsFrom = p.step;
    const takeFigures = async () => {
      await pipeline.drain();
      addFigures(p, await pipeline.stats(), p.step - statsFrom);
      statsFrom = p.step;
    };
    const save = async () => {
      await takeFigures();
      const { folder, files } = stageFiles(dir.path, p.step, config.layers);
      const bytes = await pipeline.checkpoint(files, p.step);
      commitCheckpoint(dir.path, folder, {
        format: 'synthgrad-checkpoint/1',
        createdAt: new Date().toISOString(),
        configHash: configHash(pipelineConfig),
        progress: { ...p, trainMs: p.trainMs + performance.now() - segment, wallMs: priorWallMs + performance.now() - started },
        stages: files.map((_, stage) => ({ stage, file: `${folder}/stage-${stage}.msgpack`, step: p.step, bytes: bytes[stage] })),
      });
    };
    segment = performance.now();
    let stopped = false;
    while (p.step < config.maxSteps) {
      if (options.signal?.aborted || p.step === options.stopAfter) {
        stopped = true;
        break;
      }
      await pipeline.credit(window);
      pipeline.feed(windowBatch(streams, T, V), p.step);
      p.step += 1;
      p.stepInEpoch = p.step;
      p.samples += T * config.batch;
      if (p.step % statsEvery === 0) await takeFigures();
      if (p.step % config.logEvery === 0 || p.step === config.maxSteps) {
        await takeFigures();
        record();
      }
      if (config.checkpointEvery && p.step % config.checkpointEvery === 0) await save();
      if (dir.failure) throw dir.failure;
    }
    await save();
    p.trainMs += performance.now() - segment;
    let bpc: SequenceResult['bpc'] = null;
    if (!stopped) {
      const valid = await pipeline.evaluate('validation', evalBatches(corpus, 'valid', config.batch, config.charLm.evalChars));
      const test = await pipeline.evaluate('test', evalBatches(corpus, 'test', config.batch, config.charLm.evalChars));
      const chars = [...evalBatches(corpus, 'test', config.batch, config.charLm.evalChars)].reduce((n, b) => n + b.size, 0);
      bpc = { valid: valid.loss / Math.LN2, test: test.loss / Math.LN2, chars };
    }
    await pipeline.stop();
    return {
      backend: pipeline.backends[0],
      steps: p.step,
      stopped,
      figures: last ? { trainBpc: (last as SequenceRecord).trainBpc as number } : {},
      bpc,
      corpus: corpus.source,
      vocabulary: V,
      last,
      wallSeconds: (priorWallMs + performance.now() - started) / 1000,
    };
  } catch (error) {
    await pipeline.destroy();
    throw error;
  }
}
