import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Batch } from '../data/index.js';
import { PortChannel } from '../transport/port-channel.js';
import type { ControlMessage, EvalTag, ForwardMessage, ReportMessage, Rewire, StageStats } from './protocol.js';
import type { StageSpec } from './stage-spec.js';
import { StageError } from './stage-error.js';
import type { TraceEvent } from '../metrics/trace.js';
import type { StagePorts, StageTask } from '../../workers/stage.js';

const workerFile = new URL('../../workers/stage.js', import.meta.url);

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
 * The orchestrator's side of the stages: one piscina worker per stage, wired in a chain with
 * MessageChannels (forward up, backward down) plus a control port each. It feeds batches,
 * counts completed steps (credits), collects evaluation results, statistics and checkpoints,
 * and restarts a failed stage with its neighbours re-wired.
 */
export class Pipeline {
  readonly backends: string[] = [];
  /** Per stage: the backends tried before the one taken, and why each was not. */
  readonly skippedBackends: { candidate: string; reason: string }[][] = [];
  /** Per stage: the step its checkpoint was taken at, when it was restored from one. */
  readonly restoredSteps: (number | null)[] = [];
  restarts = 0;
  lostSteps = 0;
  private readonly controls: PortChannel<ControlMessage | ReportMessage>[] = [];
  private input!: PortChannel<ForwardMessage>;
  private readonly tasks: Promise<StageStats>[] = [];
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

  private constructor(
    private readonly specs: StageSpec[],
    private readonly pool: Piscina,
    private readonly events: PipelineEvents,
  ) {
    const count = specs.length;
    const forward = specs.map(() => new MessageChannel()); // forward[s]: into stage s
    const backward = specs.slice(1).map(() => new MessageChannel()); // backward[s]: into stage s, from s+1
    this.input = new PortChannel(forward[0].port1);
    specs.forEach((spec, s) => {
      this.launch(spec, {
        forwardIn: forward[s].port2,
        ...(s < count - 1 && { forwardOut: forward[s + 1].port1, backwardIn: backward[s].port2 }),
        ...(s > 0 && { backwardOut: backward[s - 1].port1 }),
      });
    });
  }

  /** Starts one worker per stage and waits until every stage has its backend and weights. */
  static async start(specs: StageSpec[], events: PipelineEvents = {}): Promise<Pipeline> {
    const pool = new Piscina({
      filename: workerFile.href,
      minThreads: specs.length,
      maxThreads: specs.length,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      // 'sync' would park an idle worker in Atomics.wait, starving its MessagePort listeners.
      atomics: 'disabled',
    });
    const pipeline = new Pipeline(specs, pool, events);
    try {
      await pipeline.waitUntil(() => pipeline.ready.size === specs.length);
    } catch (error) {
      await pipeline.destroy();
      throw error;
    }
    return pipeline;
  }

  get stages(): number {
    return this.specs.length;
  }

  /** Training steps sent whose work is not finished in every stage. */
  get inFlight(): number {
    return this.inFlightSteps.size;
  }

  /** Sends a training batch into stage 0 (its buffers move to the worker). */
  feed(batch: Batch, step: number): void {
    this.throwIfFailed();
    this.inFlightSteps.set(step, 0);
    this.input.send({ kind: 'forward', step, rows: batch.size, activations: batch.x, labels: batch.labels }, [
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
      this.input.send({ kind: 'forward', step: -1, rows: 0, activations: new Float32Array(0), labels: new Uint8Array(0), marker: true });
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
      this.input.send({ kind: 'forward', step: -1, rows: batch.size, activations: batch.x, labels: batch.labels, eval: tag }, [
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
    for (const c of this.controls) c.send({ kind: 'stats' });
    await this.waitUntil(() => this.statsReplies.length === this.stages);
    return [...this.statsReplies].sort((a, b) => a.stage - b.stage);
  }

  /** Every stage's weights (parameters, then BatchNorm statistics), in stage order. */
  async weights(): Promise<Float32Array[][]> {
    this.weightReplies = [];
    for (const c of this.controls) c.send({ kind: 'weights' });
    await this.waitUntil(() => this.weightReplies.length === this.stages);
    return [...this.weightReplies].sort((a, b) => a.stage - b.stage).map((r) => r.values);
  }

  /** Drains, then has every stage write its state to files[stage]; resolves with the bytes written. */
  async checkpoint(files: string[], step: number): Promise<number[]> {
    await this.drain();
    this.checkpointReplies = [];
    this.controls.forEach((c, s) => c.send({ kind: 'checkpoint', file: files[s], step }));
    await this.waitUntil(() => this.checkpointReplies.length === this.stages);
    return [...this.checkpointReplies].sort((a, b) => a.stage - b.stage).map((r) => r.bytes);
  }

  /** Stops every stage (after the work sent so far) and closes the workers. */
  async stop(): Promise<StageStats[]> {
    this.stopping = true;
    for (const c of this.controls) c.send({ kind: 'stop' });
    try {
      const results = await Promise.all(this.tasks);
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
    for (const c of this.controls) c.close();
    this.input.close();
    await this.pool.destroy();
  }

  /** Starts stage `spec.index` in a worker with the given data ports and a new control port. */
  private launch(spec: StageSpec, data: Rewire & { forwardIn: MessagePort }): void {
    const s = spec.index;
    const control = new MessageChannel();
    const ports: StagePorts = { ...data, control: control.port2 };
    const channel = new PortChannel<ControlMessage | ReportMessage>(control.port1);
    channel.onMessage((m) => this.receive(m as ReportMessage));
    this.controls[s]?.close();
    this.controls[s] = channel;
    const task: StageTask = { spec, ports };
    const transferList = Object.values(ports).filter(Boolean) as MessagePort[];
    const promise = this.pool.run(task, { transferList }) as Promise<StageStats>;
    this.tasks[s] = promise;
    promise.catch((error) => {
      if (this.tasks[s] === promise) this.stageFailed(spec, new StageError(s, error));
    });
  }

  private stageFailed(spec: StageSpec, error: StageError): void {
    if (this.destroyed || this.failure) return;
    const s = spec.index;
    const fatal = this.fatal.get(s);
    const decision: RestartDecision =
      fatal || this.stopping ? { restart: false } : (this.events.onStageFailure?.(s, error) ?? { restart: false });
    if (!decision.restart) return this.fail(error);
    this.restart(spec, decision.restore, error);
  }

  /**
   * Replaces a failed stage: the batches in flight are lost (every stage forgets them), the new
   * worker restores its state, and its neighbours get new ports to it.
   */
  private restart(spec: StageSpec, restore: string | undefined, error: StageError): void {
    const s = spec.index;
    const last = this.stages - 1;
    this.restarts += 1;
    this.ready.delete(s);
    const lost = [...this.inFlightSteps.keys()];
    for (const step of lost) this.abandoned.add(step);
    this.inFlightSteps.clear();
    this.lostSteps += lost.length;
    this.controls.forEach((c, i) => i !== s && c.send({ kind: 'abandon', steps: lost }));

    // New links to the replacement; the neighbours acknowledge before any new batch is fed.
    const forwardIn = new MessageChannel();
    const data: Rewire & { forwardIn: MessagePort } = { forwardIn: forwardIn.port2 };
    if (s === 0) {
      this.input.close();
      this.input = new PortChannel(forwardIn.port1);
    } else {
      const down = new MessageChannel();
      data.backwardOut = down.port1;
      this.rewiresPending += 1;
      this.controls[s - 1].send({ kind: 'rewire', ports: { forwardOut: forwardIn.port1, backwardIn: down.port2 } }, [forwardIn.port1, down.port2]);
    }
    if (s < last) {
      const up = new MessageChannel();
      const back = new MessageChannel();
      data.forwardOut = up.port1;
      data.backwardIn = back.port2;
      this.rewiresPending += 1;
      this.controls[s + 1].send({ kind: 'rewire', ports: { forwardIn: up.port2, backwardOut: back.port1 } }, [up.port2, back.port1]);
    }
    const { fault: _fault, ...rest } = spec; // a deliberate fault fires once
    const respawned: StageSpec = { ...rest, ...(restore ? { restore } : {}) };
    if (!restore) delete respawned.restore;
    this.specs[s] = respawned;
    this.launch(respawned, data);
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
    if (count + credit >= this.stages) this.inFlightSteps.delete(message.step);
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
