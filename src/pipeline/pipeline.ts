import type { Batch } from '../data/index.js';
import type { EvalTag, ReportMessage, StageStats } from './protocol.js';
import { doneReportsPerStep, type StageSpec } from './stage-spec.js';
import { StageError } from './stage-error.js';
import type { TraceEvent } from '../metrics/trace.js';
import type { StageHost } from './stage-host.js';
import { ThreadStageHost } from './thread-host.js';

export interface TrainStepResult {
  step: number;
  loss: number;
  correct: number;
  rows: number;
}

/** What to do when stage `stage` failed: restart it (from `restore`, or fresh) or give up. */
export type RestartDecision = { restart: true; restore?: string } | { restart: false };

export interface PipelineEvents {
  onStep?(result: TrainStepResult): void;
  onLog?(message: Extract<ReportMessage, { kind: 'log' }>): void;
  /** Asked when a stage fails with an error a restart could cure; default: give up. */
  onStageFailure?(stage: number, error: StageError): RestartDecision;
  /** A stage was restarted; `lostSteps` batches in flight were lost with it. */
  onRestart?(stage: number, lostSteps: number, error: StageError): void;
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

type Report<K extends ReportMessage['kind']> = Extract<ReportMessage, { kind: K }>;

/**
 * The orchestrator's side of the stages. It feeds batches, counts completed steps (credits),
 * collects evaluation results, statistics and checkpoints, and restarts a failed stage. Where the
 * stages run and how they are reached is the host's business (`StageHost`): worker threads wired
 * with MessagePorts by default, or stage processes over NATS.
 */
export class Pipeline {
  readonly backends: string[] = [];
  /** Per stage: the backends tried before the one taken, and why each was not. */
  readonly skippedBackends: { candidate: string; reason: string }[][] = [];
  /** Per stage: the step its checkpoint was taken at, when it was restored from one. */
  readonly restoredSteps: (number | null)[] = [];
  restarts = 0;
  lostSteps = 0;
  /** Steps sent and not yet finished by every stage, with the count of stages done. */
  private readonly inFlightSteps = new Map<number, number>();
  private readonly abandoned = new Set<number>();
  private readonly evalResults: Report<'eval'>[] = [];
  private statsReplies: StageStats[] = [];
  /** Trace spans the stages sent with their statistics, and how many they could not keep. */
  readonly traceEvents: TraceEvent[] = [];
  readonly traceDropped: number[] = [];
  private weightReplies: Report<'weights'>[] = [];
  private checkpointReplies: Report<'checkpointed'>[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;
  private readonly fatal = new Map<number, string>();
  private readonly ready = new Set<number>();
  /** Rewire messages sent to neighbours of a restarted stage and not yet acknowledged. */
  private rewiresPending = 0;
  private destroyed = false;
  private stopping = false;
  /** Every stage has been ready once (failures before that end the start, no restart). */
  private started = false;

  private constructor(
    private readonly specs: StageSpec[],
    private readonly host: StageHost,
    private readonly events: PipelineEvents,
  ) {}

  /**
   * Starts every stage (by default one worker thread each) and waits until every stage has its
   * backend and weights.
   */
  static async start(specs: StageSpec[], events: PipelineEvents = {}, host: StageHost = new ThreadStageHost()): Promise<Pipeline> {
    const pipeline = new Pipeline([...specs], host, events);
    try {
      await host.start(specs, {
        report: (m) => pipeline.receive(m),
        failed: (stage, error) => pipeline.stageFailed(pipeline.specs[stage], error),
        fail: (error) => pipeline.fail(error),
      });
      await pipeline.waitUntil(() => pipeline.ready.size === specs.length);
      pipeline.started = true;
    } catch (error) {
      await pipeline.destroy();
      throw error;
    }
    return pipeline;
  }

  get stages(): number {
    return this.specs.length;
  }

  /** `done` reports that finish a training step (an unlocked stage sends two). */
  private get reportsPerStep(): number {
    return doneReportsPerStep(this.specs);
  }

  /** Training steps sent whose work is not finished in every stage. */
  get inFlight(): number {
    return this.inFlightSteps.size;
  }

  /**
   * Sends a training batch into stage 0 (its buffers move to the worker) and, complete unlock, a
   * copy straight to every stage that predicts its input from it.
   */
  feed(batch: Batch, step: number): void {
    this.throwIfFailed();
    this.inFlightSteps.set(step, 0);
    for (const spec of this.specs) {
      if (!spec.syntheticInputs) continue;
      if (!this.host.sendInput) throw new Error('this transport cannot send data batches to stages above the first (synthetic inputs run in worker threads only)');
      const activations = batch.x.slice();
      const labels = batch.labels.slice();
      this.host.sendInput(spec.index, { kind: 'input', step, rows: batch.size, activations, labels }, [activations.buffer as ArrayBuffer]);
    }
    this.host.send({ kind: 'forward', step, rows: batch.size, activations: batch.x, labels: batch.labels }, [
      batch.x.buffer as ArrayBuffer,
    ]);
  }

  /** Waits for a credit: fewer than `window` steps in flight, and every link up. */
  credit(window: number): Promise<void> {
    return this.waitUntil(() => this.inFlight < window && this.linked);
  }

  /** Waits until every step sent has been finished by every stage, and every link is up. */
  drain(): Promise<void> {
    // pipelined stages hold targets back until later batches pass: a marker lets them through
    if (this.inFlight > 0 && this.specs[0].schedule === 'pipelined' && !this.failure) {
      this.host.send({ kind: 'forward', step: -1, rows: 0, activations: new Float32Array(0), labels: new Uint8Array(0), marker: true });
    }
    return this.waitUntil(() => this.inFlight === 0 && this.linked);
  }

  /** Every stage is up and knows its neighbours (after a restart: the new ports are in use). */
  private get linked(): boolean {
    return this.ready.size === this.stages && this.rewiresPending === 0;
  }

  /** Forward-only pass over batches; returns mean loss and accuracy. */
  async evaluate(split: EvalTag['split'], batches: Iterable<Batch>): Promise<{ loss: number; accuracy: number }> {
    await this.drain();
    this.evalResults.length = 0;
    let count = 0;
    for (const batch of batches) {
      const tag: EvalTag = { split, index: count++ };
      this.host.send({ kind: 'forward', step: -1, rows: batch.size, activations: batch.x, labels: batch.labels, eval: tag }, [
        batch.x.buffer as ArrayBuffer,
      ]);
    }
    await this.waitUntil(() => this.evalResults.length === count);
    let lossSum = 0;
    let correct = 0;
    let rows = 0;
    for (const r of this.evalResults) {
      lossSum += r.lossSum;
      correct += r.correct;
      rows += r.rows;
    }
    return { loss: lossSum / rows, accuracy: correct / rows };
  }

  /** Each stage's counters; synthesizer means are since the previous call. */
  async stats(): Promise<StageStats[]> {
    this.statsReplies = [];
    for (let s = 0; s < this.stages; s++) this.host.control(s, { kind: 'stats' });
    await this.waitUntil(() => this.statsReplies.length === this.stages);
    return [...this.statsReplies].sort((a, b) => a.stage - b.stage);
  }

  /** Lowers stage `stage`'s scheduling priority to `nice` (0 leaves it as it is). */
  prioritize(stage: number, nice: number): void {
    if (nice > 0) this.host.control(stage, { kind: 'priority', nice });
  }

  /** Every stage's weights (parameters, then BatchNorm statistics), in stage order. */
  async weights(): Promise<Float32Array[][]> {
    this.weightReplies = [];
    for (let s = 0; s < this.stages; s++) this.host.control(s, { kind: 'weights' });
    await this.waitUntil(() => this.weightReplies.length === this.stages);
    return [...this.weightReplies].sort((a, b) => a.stage - b.stage).map((r) => r.values);
  }

  /** Drains, then has every stage write its state to files[stage]; resolves with the bytes written. */
  async checkpoint(files: string[], step: number): Promise<number[]> {
    await this.drain();
    this.checkpointReplies = [];
    for (let s = 0; s < this.stages; s++) this.host.control(s, { kind: 'checkpoint', file: files[s], step });
    await this.waitUntil(() => this.checkpointReplies.length === this.stages);
    return [...this.checkpointReplies].sort((a, b) => a.stage - b.stage).map((r) => r.bytes);
  }

  /** Stops every stage (after the work sent so far) and closes the workers. */
  async stop(): Promise<StageStats[]> {
    this.stopping = true;
    for (let s = 0; s < this.stages; s++) this.host.control(s, { kind: 'stop' });
    try {
      const results = await this.host.finished();
      this.throwIfFailed();
      return results;
    } finally {
      await this.destroy();
    }
  }

  /** Ends the workers at once (after a failure, or when abandoning a run). */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.stopping = true;
    await this.host.destroy();
  }

  private stageFailed(spec: StageSpec, error: StageError): void {
    if (this.destroyed || this.failure) return;
    const s = spec.index;
    const fatal = this.fatal.get(s);
    const decision: RestartDecision =
      fatal || !error.retryable || this.stopping || !this.started ? { restart: false } : (this.events.onStageFailure?.(s, error) ?? { restart: false });
    if (!decision.restart) return this.fail(error);
    this.restart(spec, decision.restore, error);
  }

  /**
   * Replaces a failed stage: the batches in flight are lost (every stage forgets them), the new
   * instance restores its state, and the host links its neighbours to it.
   */
  private restart(spec: StageSpec, restore: string | undefined, error: StageError): void {
    const s = spec.index;
    this.restarts += 1;
    this.ready.delete(s);
    const lost = [...this.inFlightSteps.keys()];
    for (const step of lost) this.abandoned.add(step);
    this.inFlightSteps.clear();
    this.lostSteps += lost.length;
    for (let i = 0; i < this.stages; i++) if (i !== s) this.host.control(i, { kind: 'abandon', steps: lost });
    const { fault: _fault, restoreState: _state, ...rest } = spec; // a deliberate fault fires once
    const respawned: StageSpec = { ...rest, ...(restore ? { restore } : {}) };
    if (!restore) delete respawned.restore;
    this.specs[s] = respawned;
    // the neighbours acknowledge new links (if any) before any new batch is fed
    this.rewiresPending += this.host.replace(respawned);
    this.events.onRestart?.(s, lost.length, error);
    this.poke();
  }

  private receive(message: ReportMessage): void {
    switch (message.kind) {
      case 'ready':
        this.backends[message.stage] = message.backend;
        this.skippedBackends[message.stage] = message.skipped;
        this.restoredSteps[message.stage] = message.restoredStep;
        this.ready.add(message.stage);
        break;
      case 'done':
        this.done(message);
        break;
      case 'eval':
        this.evalResults.push(message);
        break;
      case 'stats':
        this.statsReplies.push(message.stats);
        for (const e of message.trace) this.traceEvents.push(e);
        this.traceDropped[message.stats.stage] = message.traceDropped;
        break;
      case 'weights':
        this.weightReplies.push(message);
        break;
      case 'checkpointed':
        this.checkpointReplies.push(message);
        break;
      case 'rewired':
        this.rewiresPending -= 1;
        break;
      case 'fatal':
        this.fatal.set(message.stage, message.message);
        break;
      case 'log':
        this.events.onLog?.(message);
        break;
    }
    this.poke();
  }

  private done(message: Report<'done'>): void {
    if (this.abandoned.has(message.step)) return;
    const count = this.inFlightSteps.get(message.step);
    if (count === undefined) return;
    // a batch dropped before it went up: the stages above will never see it
    const credit = message.dropped === 'above' ? this.stages - message.stage : 1;
    if (count + credit >= this.reportsPerStep) this.inFlightSteps.delete(message.step);
    else this.inFlightSteps.set(message.step, count + credit);
    if (message.loss !== undefined) {
      this.events.onStep?.({ step: message.step, loss: message.loss, correct: message.correct!, rows: message.rows! });
    }
  }

  private fail(error: Error): void {
    if (!this.failure) this.failure = error;
    this.poke();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private waitUntil(check: () => boolean): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ check, resolve, reject }));
  }

  private poke(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (this.failure) w.reject(this.failure);
      else if (w.check()) w.resolve();
      else continue;
      this.waiters.splice(i, 1);
    }
  }
}
