import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';
import { validateConfig } from './config/resolve.js';
import { ConfigError } from './config/errors.js';
import { layerOutputShapes } from './config/layer-shapes.js';
import { formatShape } from './model/layer.js';
import { hasLockedStage, placementOf, type Config, type ConfigInput } from './config/schema.js';
import { loadDataset, checkInputShape, makeBatch, relabel, sequentialBatches, type Dataset } from './data/index.js';
import { epochOrder, trainingSteps } from './run/training-order.js';
import { Pipeline, type PipelineEvents, type TrainStepResult } from './pipeline/pipeline.js';
import { describeAdapter } from './runtime/webgpu.js';
import { stageGrouping, stageSpecs, type Fault, type StageSpec } from './stage/stage-spec.js';
import { stageNiceness } from './pipeline/priorities.js';
import type { StageStats } from './stage/protocol.js';
import { RunDir, newRunId } from './metrics/run-dir.js';
import type { AccuracyReached, StageSummary, Summary } from './run/summary.js';
import { commitCheckpoint, configHash, readCheckpoint, stageFiles, type RunProgress } from './checkpoint/manifest.js';
import { readRunConfig } from './run/run-config.js';
import { refuseFinished } from './run/finished.js';
import { PIPELINE_LAG } from './loop/schedule.js';
import { rounded, silentLogger, type Logger } from './log.js';
import { versions } from './versions.js';
import { writeReport } from './lab/report/index.js';
import { TraceRecorder, threadNames, ORCHESTRATOR_TID, stageTid } from './metrics/trace.js';
import { TraceFile } from './metrics/trace-file.js';
import { WriteError } from './write-error.js';
import type { StageHost } from './pipeline/stage-host.js';
import { ThreadStageHost } from './transport/threads/thread-host.js';
import { NatsStageHost } from './transport/nats/nats-stage-host.js';
import type { NatsCredentials } from './transport/nats/nats-connect.js';
import type { NatsTls } from './transport/nats/nats-connect.js';

/** Stages as processes over NATS. */
export interface NatsRunOptions {
  /** 'spawn': one local child process per stage; 'join': wait for `synthgrad stage` processes. */
  stages: 'spawn' | 'join';
  /** The server; none (spawn only): a local nats-server on a free loopback port, stopped at the end. */
  url?: string;
  /** Names the run's subjects (default: the run id); stages join with the same id. */
  runId?: string;
  tls?: NatsTls;
  /** Default: from the environment (SYNTHGRAD_NATS_TOKEN, ...). */
  credentials?: NatsCredentials;
  /** How long stages may take to join (default 60 s). */
  joinTimeoutMs?: number;
  /** A stage silent for this long is taken for dead and replaced (default 5 s). */
  livenessTimeoutMs?: number;
  heartbeatMs?: number;
  /** How long to wait for a NATS server that went away before the run fails (default 60 s). */
  reconnectTimeoutMs?: number;
  /** After an interruption, batches that nothing finishes for this long are taken for lost (default 3 s). */
  lossQuietMs?: number;
  /** No report from the stages for this long while waiting on them fails the run (default 120 s). */
  stallTimeoutMs?: number;
}

/** Training progress (onProgress) is reported every this many steps. */
export const PROGRESS_EVERY = 10;

export interface Progress {
  phase: 'train' | 'evaluate';
  epoch: number;
  /** The epoch the run ends in: train.epochs, or the earlier one in which train.maxSteps stops it. */
  epochs: number;
  /** Steps done so far and the run's planned total. */
  step: number;
  totalSteps: number;
  /** Mean training loss and accuracy of the epoch so far (training mode, as the batches were trained). */
  loss: number | null;
  accuracy: number | null;
  samplesPerSecond: number;
  /** Training time so far (evaluation and checkpoints left out), in seconds. */
  trainSeconds: number;
}

export type EpochRecord = {
  epoch: number;
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  epochSeconds: number;
  samplesPerSecond: number;
  /** Wall seconds since this process started the run (worker start-up and evaluations included). */
  elapsedSeconds: number;
  stages: StageStats[];
};

/** Test accuracies whose first crossing summary.json records (time to accuracy). */
export const ACCURACY_MILESTONES = [0.95, 0.97, 0.98] as const;

/**
 * Records one evaluation of the test set (an epoch end or a mid-epoch one) in `reached`: each
 * milestone its accuracy reaches gets `at`, unless an earlier evaluation reached it already.
 */
export function recordMilestones(reached: Record<number, AccuracyReached>, accuracy: number, at: AccuracyReached): void {
  for (const target of ACCURACY_MILESTONES) {
    if (accuracy >= target) reached[target] ??= { ...at };
  }
}

export interface TrainOptions {
  logger?: Logger;
  onEpoch?(record: EpochRecord): void;
  onProgress?(progress: Progress): void;
  /** Preloaded data (tests and benchmarks reuse it); otherwise loaded from config.data. */
  data?: Dataset;
  /** When aborted: stop feeding, finish the batches in flight, checkpoint, summary with stopped: true. */
  signal?: AbortSignal;
  /** Polled before each batch: true asks for a checkpoint now (the CLI's SIGUSR2). */
  checkpointRequested?: () => boolean;
  /** Testing aid (SYNTHGRAD_FAULT): one stage fails on purpose at one step. */
  fault?: Fault;
  /** Stages as processes over NATS (default: as the config's placement says). */
  nats?: NatsRunOptions;
  /**
   * The run directory (new or empty); takes precedence over config.out. Neither given: runs/<run id>
   * under the current working directory. The logger's first message names it, and so does
   * summary.outDir.
   */
  out?: string;
}

/** A run that failed; its last checkpoint is kept and named. */
export class RunError extends Error {
  constructor(
    message: string,
    readonly summary: Summary,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RunError';
  }
}

/** Batches in flight: one for backprop and lockstep, `train.window` for async, at least 4 for pipelined. */
export function effectiveWindow(config: Config): number {
  if (hasLockedStage(config) || config.train.schedule === 'lockstep') return 1;
  return config.train.schedule === 'pipelined' ? Math.max(config.train.window, PIPELINE_LAG + 2) : config.train.window;
}

/** train.priorities 'auto': the stages' CPU times are measured from this step (past the warm-up)... */
export const PRIORITY_WARMUP_STEPS = 10;
/** ...over this many steps, then their priorities are set. */
export const PRIORITY_MEASURE_STEPS = 50;

/**
 * Whether a run sets its stages' priorities: 'auto', a schedule that runs stages at the same time,
 * more stages than this machine has cores (with enough, nobody waits for a core), and stages on
 * this machine: stages that join over NATS may run on others, whose cores this run does not see.
 */
export function prioritizesStages(config: Config, nats?: Pick<NatsRunOptions, 'stages'>): boolean {
  const concurrent = !hasLockedStage(config) && config.train.schedule !== 'lockstep';
  const local = nats?.stages !== 'join';
  return config.train.priorities === 'auto' && concurrent && local && stageGrouping(config).length > availableParallelism();
}

/** Trains a config in stage workers and returns the summary (also written to summary.json). */
export async function train(input: ConfigInput | Config, options: TrainOptions = {}): Promise<Summary> {
  const config = validateConfig(input);
  checkTransport(config, options);
  const data = runData(config, options);
  const runId = options.nats?.runId ?? newRunId(config.preset ?? config.mode);
  const dir = new RunDir(options.out ?? config.out ?? join('runs', runId));
  options.logger?.info({ out: dir.path }, `writing the run to ${dir.path}`);
  return new Run(config, dir, runId, data, options, null).execute();
}

/** Continues the run in `runDir` from its last complete checkpoint, with the run's own config. */
export async function resume(runDir: string, options: TrainOptions = {}): Promise<Summary> {
  const dir = RunDir.existing(runDir);
  const { config, runId } = readRunConfig(dir.path);
  checkTransport(config, options);
  const checkpoint = readCheckpoint(dir.path, config, stageGrouping(config).length);
  refuseFinished(dir.path);
  const data = runData(config, options);
  return new Run(config, dir, runId, data, options, checkpoint).execute();
}

/** Synthetic inputs need the orchestrator's data links into every stage, which only worker threads have yet; LSTM layers need windows of text. */
function checkTransport(config: Config, options: TrainOptions): void {
  const lstm = config.model.layers.findIndex((l) => l.type === 'lstm');
  if (lstm >= 0) {
    throw new ConfigError('config', [`model.layers.${lstm}: lstm layers train on windows of character streams: use synthgrad sequence --layers (docs/recurrent.md)`]);
  }
  if (config.syntheticInputs && options.nats) {
    throw new ConfigError('--transport nats', ['syntheticInputs: synthetic inputs run in worker threads only for now: drop --transport nats (or syntheticInputs)']);
  }
}

/** The run's data (given, or loaded from config.data), checked against the model's input. */
export function runData(config: Config, options: Pick<TrainOptions, 'data'>): Dataset {
  const data = relabel(options.data ?? loadDataset(config.data, { validationSize: config.train.validationSize }), config.labels);
  checkInputShape(config.model.inputShape, data, config.data ?? (options.data ? 'the given data' : 'the bundled MNIST'));
  trainingSteps(data.train.count, config.train); // a batch larger than the training set is refused before the run folder is made
  return data;
}

function freshProgress(): RunProgress {
  return {
    step: 0, epoch: 0, stepInEpoch: 0, samples: 0, trainMs: 0, wallMs: 0,
    epochLoss: 0, epochCorrect: 0, epochRows: 0,
    recentLoss: 0, recentCorrect: 0, recentRows: 0, recentSteps: 0,
    val: null, test: null, restarts: 0, lostSteps: 0,
  };
}

/** One training run: feeds the pipeline, evaluates, checkpoints, and survives stage failures. */
class Run {
  private readonly started = performance.now();
  /** Wall time of the run before this process resumed it (0 for a new run). */
  private readonly priorWallMs: number;
  private readonly log: Logger;
  private readonly window: number;
  private readonly totalSteps: number;
  /** The epoch the run ends in (train.maxSteps may end it before train.epochs). */
  private readonly lastEpoch: number;
  private readonly p: RunProgress;
  private readonly resumedFrom: number | null;
  private checkpointFiles: string[] | null = null;
  private checkpointStep: number | null = null;
  /** train.probeEvery: per stage, the sum and count of this process's probe cosines. */
  private readonly probes: { sum: number; count: number }[] = [];
  /** Time spent in checkpoints and mid-epoch evaluations (train.evalEvery): not training time. */
  private pausedMs = 0;
  private lastStats: StageStats[] = [];
  /** The steps between which the stages' CPU times are measured to set their priorities (train.priorities), or -1. */
  private readonly prioritizeFrom: number;
  private readonly prioritizeAt: number;
  private statsAtPrioritizeFrom: StageStats[] = [];
  /** The first evaluation (epoch end or mid-epoch) at which test accuracy reached each of ACCURACY_MILESTONES. */
  private readonly reached: Record<number, AccuracyReached> = {};
  /** Each stage's memory after the first epoch of this process (see summary perStage[].memory). */
  private firstEpochStats: StageStats[] | null = null;
  /** The nice value of each stage, once set. */
  private niceness: number[] | null = null;
  private pipeline!: Pipeline;
  private host: StageHost | null = null;
  private readonly trace = new TraceRecorder(ORCHESTRATOR_TID);
  private traceFile: TraceFile | null = null;

  constructor(
    private readonly config: Config,
    private readonly dir: RunDir,
    private readonly runId: string,
    private readonly data: Dataset,
    private readonly options: TrainOptions,
    checkpoint: ReturnType<typeof readCheckpoint> | null,
  ) {
    this.log = options.logger ?? silentLogger;
    this.window = effectiveWindow(config);
    const steps = trainingSteps(data.train.count, config.train);
    this.totalSteps = steps.total;
    this.lastEpoch = Math.ceil(steps.total / steps.perEpoch);
    this.p = checkpoint ? { ...checkpoint.manifest.progress } : freshProgress();
    this.resumedFrom = checkpoint ? this.p.step : null;
    this.priorWallMs = this.p.wallMs ?? 0;
    const prioritize = prioritizesStages(config, options.nats);
    this.prioritizeFrom = prioritize ? this.p.step + PRIORITY_WARMUP_STEPS : -1;
    this.prioritizeAt = prioritize ? this.prioritizeFrom + PRIORITY_MEASURE_STEPS : -1;
    if (checkpoint) {
      this.checkpointFiles = checkpoint.files;
      this.checkpointStep = this.p.step;
    }
  }

  async execute(): Promise<Summary> {
    const { config, dir, log } = this;
    const specs = this.specs();
    if (this.resumedFrom !== null) {
      dir.truncateMetrics(this.resumedFrom);
      dir.metric({ type: 'resume', step: this.resumedFrom });
    }
    log.info({ runId: this.runId, out: dir.path, mode: config.mode, schedule: config.train.schedule, window: this.window, stages: stageGrouping(config), resumedFrom: this.resumedFrom }, 'starting stages');
    try {
      this.host = this.createHost();
      this.traceFile = new TraceFile(join(dir.path, 'trace.json'));
      this.pipeline = await Pipeline.start(specs, this.pipelineEvents(), this.host);
    } catch (error) {
      if (this.resumedFrom === null) dir.discard(); // a failed start leaves nothing that blocks a retry with the same --out
      throw error;
    }
    try {
      const skipped = Object.fromEntries(this.pipeline.skippedBackends[0].map((s) => [s.candidate, s.reason]));
      const adapters = this.pipeline.adapters.map((a, stage) => (a ? `stage ${stage}: ${describeAdapter(a)}` : null)).filter((a) => a !== null);
      const on = adapters.length > 0 ? ` (${adapters.join('; ')})` : '';
      log.info({ backends: this.pipeline.backends, adapters: this.pipeline.adapters, skipped }, `stages ready on ${this.pipeline.backends[0]}${on}`);
      if (this.resumedFrom === null) {
        dir.writeJson('config.json', { runId: this.runId, config, configHash: configHash(config), backends: this.pipeline.backends, adapters: this.pipeline.adapters, window: this.window, versions: versions() });
      }
      const stopped = await this.trainEpochs();
      if (stopped) {
        await this.checkpoint();
        this.lastStats = await this.pipeline.stats();
        log.warn({ step: this.p.step, checkpoint: this.checkpointStep }, 'stopped on request; resume with --resume');
      }
      await this.pipeline.stats(); // the stages' last trace spans
      const final = await this.pipeline.stop();
      const summary = this.summary(final, stopped);
      dir.writeJson('summary.json', summary);
      this.writeTrace();
      this.report();
      return summary;
    } catch (error) {
      await this.pipeline.destroy();
      throw this.failed(error);
    }
  }

  /** What the run does when the pipeline reports: steps, logs, trace spans, failures and restarts, lost batches. */
  private pipelineEvents(): PipelineEvents {
    const { config, dir, log } = this;
    return {
      onTrace: (events) => this.traceFile?.append(events),
      onStep: (r) => this.onStep(r),
      onLog: (m) => log[m.level]({ stage: m.stage, ...m.data }, m.msg),
      onStageFailure: (stage) => {
        if (this.pipeline.restarts >= config.train.maxRestarts) return { restart: false };
        return { restart: true, restore: this.checkpointFiles?.[stage] };
      },
      onRestart: (stage, lostSteps, error) => {
        const from = this.checkpointStep === null ? 'its initial weights' : `its checkpoint of step ${this.checkpointStep}`;
        log.warn({ stage, lostSteps, error: error.message }, `stage ${stage} failed; restarted from ${from}`);
        dir.metric({ type: 'restart', stage, step: this.p.step, lostSteps, from: this.checkpointStep, error: error.message });
        if (this.niceness) this.pipeline.prioritize(stage, this.niceness[stage]); // the new thread starts at 0
      },
      onInterrupted: (why, suspects) => {
        log.warn({ step: this.p.step, inFlight: suspects }, `${why}; looking for batches lost meanwhile among the ${suspects} in flight`);
        dir.metric({ type: 'interruption', step: this.p.step, inFlight: suspects, why });
      },
      onLost: (steps, why) => {
        log.warn({ steps, why }, `${steps.length} batch${steps.length === 1 ? '' : 'es'} lost in transit (step${steps.length === 1 ? '' : 's'} ${steps.join(', ')}): abandoned at every stage`);
        dir.metric({ type: 'lost', step: this.p.step, steps, why });
      },
    };
  }

  /** Returns true when stopped early by the signal. */
  private async trainEpochs(): Promise<boolean> {
    const { config, p, pipeline } = this;
    const { epochs, checkpointEvery, evalEvery, probeEvery } = config.train;
    const stepsPerEpoch = trainingSteps(this.data.train.count, config.train).perEpoch;
    while (p.step < this.totalSteps) {
      if (p.stepInEpoch === 0) {
        if (p.epoch >= epochs) break;
        p.epoch += 1;
        p.epochLoss = p.epochCorrect = p.epochRows = 0;
      }
      const segmentStart = performance.now();
      const pausedBefore = this.pausedMs;
      const segmentMs = () => performance.now() - segmentStart - (this.pausedMs - pausedBefore);
      const epochStartStep = p.step - p.stepInEpoch;
      let index = 0;
      let aborted = false;
      for (const batch of epochOrder(this.data.train, config.train, p.epoch)) {
        if (index++ < p.stepInEpoch) continue; // trained before the checkpoint this run resumed from
        if (p.step >= this.totalSteps) break;
        if (this.options.signal?.aborted) {
          aborted = true;
          break;
        }
        await pipeline.credit(this.window);
        this.checkWrites();
        pipeline.feed(batch, p.step);
        p.step += 1;
        if (p.step === this.prioritizeFrom) this.statsAtPrioritizeFrom = await pipeline.stats();
        if (p.step === this.prioritizeAt) await this.prioritize();
        p.stepInEpoch += 1;
        p.samples += batch.size;
        if (this.options.onProgress && p.step % PROGRESS_EVERY === 0) this.progress('train', p.trainMs + segmentMs());
        if (probeEvery && p.step % probeEvery === 0) await this.probeGradients();
        // before a checkpoint at the same step: a resume from it does not evaluate that step again
        if (evalEvery && p.step % evalEvery === 0 && p.stepInEpoch < stepsPerEpoch && p.step < this.totalSteps) {
          await this.evaluateTest(p.trainMs + segmentMs());
        }
        if ((checkpointEvery && p.step % checkpointEvery === 0) || this.options.checkpointRequested?.()) await this.checkpoint();
      }
      await pipeline.drain();
      p.trainMs += segmentMs();
      if (aborted || this.options.signal?.aborted) return true;
      const epochComplete = p.step - epochStartStep === stepsPerEpoch;
      await this.endEpoch(p.step - epochStartStep);
      if (epochComplete) p.stepInEpoch = 0;
      await this.checkpoint();
    }
    return false;
  }

  /** Gives each stage's thread a nice value that follows its measured busy time (train.priorities). */
  private async prioritize(): Promise<void> {
    // CPU time where the kernel reports it: busy (wall) time also counts time spent waiting for a core
    const seconds = (stats: StageStats[]) => stats.map((s) => s.cpuSeconds ?? s.busySeconds);
    const before = seconds(this.statsAtPrioritizeFrom);
    const work = seconds(await this.pipeline.stats()).map((w, i) => (w >= (before[i] ?? 0) ? w - (before[i] ?? 0) : w)); // a restarted stage counts from 0
    this.niceness = stageNiceness(work);
    this.niceness.forEach((nice, stage) => this.pipeline.prioritize(stage, nice));
    this.log.info({ step: this.p.step, cpuSeconds: work, nice: this.niceness }, 'stage priorities set from measured CPU times');
  }

  private async endEpoch(stepsInEpoch: number): Promise<void> {
    const { p, pipeline, config } = this;
    this.progress('evaluate', p.trainMs);
    this.lastStats = await pipeline.stats();
    this.firstEpochStats ??= this.lastStats;
    const t0 = performance.now();
    const val = await pipeline.evaluate('validation', sequentialBatches(this.data.validation, config.train.evalBatchSize));
    const test = await pipeline.evaluate('test', sequentialBatches(this.data.test, config.train.evalBatchSize));
    this.span('evaluate', t0, performance.now(), { epoch: p.epoch });
    p.val = val;
    p.test = test;
    const record: EpochRecord = {
      epoch: p.epoch,
      step: p.step,
      trainLoss: p.epochLoss / p.epochRows,
      trainAccuracy: p.epochCorrect / p.epochRows,
      valLoss: val.loss,
      valAccuracy: val.accuracy,
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      epochSeconds: stepsInEpoch * config.train.batchSize / (p.samples / (p.trainMs / 1000)),
      samplesPerSecond: (p.samples * 1000) / p.trainMs,
      elapsedSeconds: this.wallMs() / 1000,
      stages: this.lastStats,
    };
    recordMilestones(this.reached, test.accuracy, { epoch: p.epoch, step: p.step, elapsedSeconds: record.elapsedSeconds });
    this.dir.metric({ type: 'epoch', ...record });
    this.options.onEpoch?.(record);
    this.log.info(
      { epoch: p.epoch, step: p.step, trainLoss: rounded(record.trainLoss, 4), valAccuracy: rounded(val.accuracy, 4), testAccuracy: rounded(test.accuracy, 4), samplesPerSecond: Math.round(record.samplesPerSecond) },
      `epoch ${p.epoch}/${this.lastEpoch}`,
    );
  }

  /**
   * train.evalEvery: the test set between epoch ends. The batches in flight finish first (training
   * work, so training time); the evaluation itself is not training time (pausedMs).
   */
  private async evaluateTest(trainMs: number): Promise<void> {
    const { p, pipeline, config } = this;
    this.progress('evaluate', trainMs);
    await pipeline.drain();
    const t0 = performance.now();
    const test = await pipeline.evaluate('test', sequentialBatches(this.data.test, config.train.evalBatchSize));
    const t1 = performance.now();
    this.pausedMs += t1 - t0;
    this.span('evaluate', t0, t1, { epoch: p.epoch, step: p.step });
    const elapsedSeconds = this.wallMs(t1) / 1000;
    recordMilestones(this.reached, test.accuracy, { epoch: p.epoch, step: p.step, elapsedSeconds });
    this.dir.metric({ type: 'eval', epoch: p.epoch, step: p.step, testLoss: test.loss, testAccuracy: test.accuracy, elapsedSeconds });
    this.log.info({ epoch: p.epoch, step: p.step, testAccuracy: rounded(test.accuracy, 4) }, `step ${p.step}: test accuracy ${rounded(test.accuracy, 4)}`);
  }

  /**
   * train.probeEvery: the gradient probe on the first batch of the validation split, once the
   * batches in flight are finished (training work); the probe itself is not training time. A probe
   * lost with a restarted stage is recorded as lost, and left out of the summary's means.
   */
  private async probeGradients(): Promise<void> {
    const { p, pipeline, config } = this;
    await pipeline.drain();
    const t0 = performance.now();
    const split = this.data.validation;
    const rows = Math.min(config.train.batchSize, split.count);
    const cosines = await pipeline.probe(makeBatch(split, Array.from({ length: rows }, (_, i) => i), 0, rows));
    const t1 = performance.now();
    this.pausedMs += t1 - t0;
    this.span('probe', t0, t1, { step: p.step });
    if (!cosines) return this.dir.metric({ type: 'probe', step: p.step, lost: true });
    this.dir.metric({ type: 'probe', step: p.step, cosine: cosines });
    cosines.forEach((cosine, s) => {
      const sum = (this.probes[s] ??= { sum: 0, count: 0 });
      if (cosine !== null) sum.sum += cosine;
      sum.count += 1;
    });
  }

  /** Drains, has every stage write its file, then commits the manifest. */
  private async checkpoint(): Promise<void> {
    const t0 = performance.now();
    const { folder, files } = stageFiles(this.dir.path, this.p.step, this.pipeline.stages);
    const bytes = await this.pipeline.checkpoint(files, this.p.step);
    commitCheckpoint(this.dir.path, folder, {
      format: 'synthgrad-checkpoint/1',
      createdAt: new Date().toISOString(),
      configHash: configHash(this.config),
      progress: { ...this.p, wallMs: this.wallMs(), restarts: this.pipeline.restarts, lostSteps: this.pipeline.lostSteps },
      stages: files.map((_, stage) => ({ stage, file: `${folder}/stage-${stage}.msgpack`, step: this.p.step, bytes: bytes[stage] })),
    });
    this.checkWrites();
    this.checkpointFiles = files;
    this.checkpointStep = this.p.step;
    this.pausedMs += performance.now() - t0;
    this.span('checkpoint', t0, performance.now(), { step: this.p.step });
    this.log.debug({ step: this.p.step, folder }, 'checkpoint written');
  }

  /** Wall time of the whole run at `now`: this process's part plus that of the processes before a resume. */
  private wallMs(now = performance.now()): number {
    return this.priorWallMs + (now - this.started);
  }

  /** A metrics line or trace span that could not be written stops the run (they are written from callbacks, which cannot throw). */
  private checkWrites(): void {
    const failure = this.dir.failure ?? this.traceFile?.failure;
    if (failure) throw failure;
  }

  private onStep(r: TrainStepResult): void {
    const p = this.p;
    p.recentLoss += r.loss;
    p.recentCorrect += r.correct;
    p.recentRows += r.rows;
    p.recentSteps += 1;
    p.epochLoss += r.loss * r.rows;
    p.epochCorrect += r.correct;
    p.epochRows += r.rows;
    if (p.recentSteps === this.config.train.logEvery) {
      this.dir.metric({ type: 'train', epoch: p.epoch, step: r.step + 1, loss: p.recentLoss / p.recentSteps, accuracy: p.recentCorrect / p.recentRows });
      p.recentLoss = p.recentCorrect = p.recentRows = p.recentSteps = 0;
    }
  }

  /** `trainMs`: the training time so far. */
  private progress(phase: Progress['phase'], trainMs: number): void {
    const { p } = this;
    this.options.onProgress?.({
      phase, epoch: p.epoch, epochs: this.lastEpoch, step: p.step, totalSteps: this.totalSteps,
      loss: p.epochRows ? p.epochLoss / p.epochRows : null, accuracy: p.epochRows ? p.epochCorrect / p.epochRows : null, samplesPerSecond: trainMs > 0 ? (p.samples * 1000) / trainMs : 0,
      trainSeconds: trainMs / 1000,
    });
  }

  /** Worker threads, or stage processes over NATS (spawned here, or joining from anywhere). */
  private createHost(): StageHost {
    const { config } = this;
    const nats = this.options.nats ?? (placementOf(config) === 'process' ? { stages: 'spawn' as const } : undefined);
    if (!nats) return new ThreadStageHost();
    return new NatsStageHost({
      ...nats,
      runId: nats.runId ?? this.runId,
      maxRows: Math.max(config.train.batchSize, config.train.evalBatchSize),
      logger: this.log,
    });
  }

  private specs(): StageSpec[] {
    return stageSpecs(this.config, this.window).map((spec) => ({
      ...spec,
      ...(this.checkpointFiles && { restore: this.checkpointFiles[spec.index] }),
      ...(this.options.fault?.stage === spec.index && { fault: this.options.fault }),
    }));
  }

  private summary(final: StageStats[], stopped: boolean, error?: string): Summary {
    const { config, p, pipeline } = this;
    const groups = stageGrouping(config);
    return {
      runId: this.runId,
      outDir: this.dir.path,
      preset: config.preset ?? null,
      mode: config.mode,
      schedule: config.train.schedule,
      window: this.window,
      backend: pipeline.backends[0],
      stages: groups.length,
      epochs: p.epoch,
      steps: p.step,
      batchSize: config.train.batchSize,
      wallSeconds: this.wallMs() / 1000,
      trainSeconds: p.trainMs / 1000,
      trainSamplesPerSecond: p.trainMs > 0 ? (p.samples * 1000) / p.trainMs : 0,
      valAccuracy: p.val?.accuracy ?? null,
      valLoss: p.val?.loss ?? null,
      testAccuracy: p.test?.accuracy ?? null,
      testLoss: p.test?.loss ?? null,
      stopped,
      ...(error && { error }),
      restarts: p.restarts + pipeline.restarts,
      lostSteps: p.lostSteps + pipeline.lostSteps,
      checkpointStep: this.checkpointStep,
      resumedFrom: this.resumedFrom,
      testAccuracyReached: Object.fromEntries(ACCURACY_MILESTONES.map((a) => [String(a), this.reached[a] ?? null])),
      perStage: this.perStage(final),
      ...(this.host?.describe && {
        transport: { ...this.host.describe(), interruptions: pipeline.interruptions, lostInTransit: pipeline.lostInTransit, resent: pipeline.resent },
      }),
    };
  }

  /** Each stage's figures: from its final statistics, else from the last ones taken (a failed run). */
  private perStage(final: StageStats[]): StageSummary[] {
    const { config, pipeline } = this;
    const steps = this.p.step;
    const groups = stageGrouping(config);
    const shapes = [config.model.inputShape, ...layerOutputShapes(config.model.inputShape, config.model.layers)];
    return groups.map((layers, i) => {
      const s = final[i] ?? this.lastStats[i];
      return {
        stage: i,
        layers: layers.map((l) => describeLayer(config, shapes, l)),
        backend: pipeline.backends[i],
        busySeconds: s?.busySeconds ?? 0,
        waitSeconds: s?.waitSeconds ?? 0,
        sendSeconds: s?.sendSeconds ?? 0,
        ...(s?.sends !== undefined && { sends: s.sends, sendMedianMs: s.sendMedianMs ?? null }),
        ...(s?.receives !== undefined && { receiveSeconds: s.receiveSeconds ?? 0, receives: s.receives, receiveMedianMs: s.receiveMedianMs ?? null }),
        ...(s?.readSeconds !== undefined && { readSeconds: s.readSeconds, reads: s.reads ?? 0, readMsPerStep: steps > 0 ? (s.readSeconds * 1000) / steps : null }),
        ...(s?.cpuSeconds !== undefined && { cpuSeconds: s.cpuSeconds, runQueueSeconds: s.runQueueSeconds }),
        updates: s?.updates ?? 0,
        skippedUpdates: s?.skippedUpdates ?? 0,
        ...(s?.synthesizerRepredictions !== undefined && { synthesizerRepredictions: s.synthesizerRepredictions }),
        droppedNonFinite: s?.droppedNonFinite ?? 0,
        synthesizerLoss: this.lastStats[i]?.synthesizerLoss ?? null,
        synthesizerCosine: this.lastStats[i]?.synthesizerCosine ?? null,
        ...(this.probes[i] && { gradientCosine: i === groups.length - 1 ? null : this.probes[i].sum / this.probes[i].count, gradientProbes: this.probes[i].count }),
        ...(this.niceness && { nice: this.niceness[i] }),
        ...(this.firstEpochStats && { memory: { firstEpoch: this.firstEpochStats[i]?.memory ?? null, end: s?.memory ?? null } }),
        ...(this.lastStats[i]?.inputModelLoss !== undefined && { inputModelLoss: this.lastStats[i].inputModelLoss }),
        ...((s?.rejected ?? this.lastStats[i]?.rejected) && { rejected: s?.rejected ?? this.lastStats[i]?.rejected }),
      };
    });
  }

  /** One of the orchestrator's own spans (evaluations, checkpoints), on disk at once like the stages'. */
  private span(name: string, start: number, end: number, args: Record<string, unknown>): void {
    this.trace.span(name, start, end, args);
    this.traceFile?.append(this.trace.take());
  }

  /** trace.json: Chrome trace events of every stage (compute, wait, send) and of the orchestrator. */
  private writeTrace(): void {
    const names: Record<number, string> = { [ORCHESTRATOR_TID]: 'orchestrator' };
    for (let s = 0; s < (this.pipeline?.stages ?? 0); s++) names[stageTid(s)] = `stage ${s}`;
    const dropped = (this.pipeline?.traceDropped ?? []).reduce((a, b) => a + (b ?? 0), 0) + this.trace.dropped;
    this.traceFile?.append(this.trace.take());
    this.traceFile?.finish(threadNames(names), { runId: this.runId, droppedSpans: dropped });
  }

  /** report.html beside the run's files; a failure to draw it never fails the run. */
  private report(): void {
    try {
      writeReport([this.dir.path]);
    } catch (error) {
      if (error instanceof WriteError) throw error; // the disk failed, like any other write of the run
      this.log.warn({ error: (error as Error).message }, 'could not draw report.html');
    }
  }

  /** Records a failed run (summary.json with the error) and says how to continue it. */
  private failed(error: unknown): Error {
    const cause = error as Error;
    const tooMany = this.pipeline?.restarts >= this.config.train.maxRestarts && this.config.train.maxRestarts > 0;
    const restartNote = tooMany ? ` (after ${this.pipeline.restarts} restarts, the most --max-restarts allows)` : '';
    const resumeNote =
      this.checkpointStep === null
        ? 'no checkpoint had been written yet'
        : `the last checkpoint (step ${this.checkpointStep}) is kept: continue with synthgrad train --resume ${this.dir.path}`;
    const message = `${cause.message}${restartNote}; the run stopped, ${resumeNote}`;
    let summary: Summary;
    try {
      summary = this.summary(this.lastStats, true, message);
    } catch {
      return cause;
    }
    // each record of the failure is tried on its own: after a write failure, some may fail too
    const records: [string, () => void][] = [
      ['summary.json', () => this.dir.writeJson('summary.json', summary)],
      ['metrics.jsonl', () => this.dir.metric({ type: 'error', step: this.p.step, error: message })],
      ['trace.json', () => this.writeTrace()],
      ['report.html', () => this.report()],
    ];
    for (const [name, record] of records) {
      try {
        record();
      } catch (failure) {
        this.log.debug({ error: (failure as Error).message }, `the failed run's ${name} was not written`);
      }
    }
    return new RunError(message, summary, { cause });
  }
}

/** e.g. '0: dense 784->256 batchnorm+relu', '1: maxpool 28x28x16->14x14x16'. */
export function describeLayer(config: Config, shapes: number[][], index: number): string {
  const layer = config.model.layers[index];
  const extras = 'activation' in layer ? [layer.batchNorm ? 'batchnorm' : '', layer.activation].filter(Boolean).join('+') : '';
  return `${index}: ${layer.type} ${formatShape(shapes[index])}->${formatShape(shapes[index + 1])} ${extras}`.trimEnd();
}

