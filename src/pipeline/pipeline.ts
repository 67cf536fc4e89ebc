import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Batch } from '../data/index.js';
import { PortChannel } from '../transport/port-channel.js';
import type { ControlMessage, EvalTag, ForwardMessage, ReportMessage, StageStats } from './protocol.js';
import type { StageSpec } from './stage-spec.js';
import { StageError } from './stage-error.js';
import type { StagePorts, StageTask } from '../../workers/stage.js';

const workerFile = new URL('../../workers/stage.js', import.meta.url);

export interface TrainStepResult {
  step: number;
  loss: number;
  correct: number;
  rows: number;
}

export interface PipelineEvents {
  onStep?(result: TrainStepResult): void;
  onLog?(message: Extract<ReportMessage, { kind: 'log' }>): void;
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The orchestrator's side of the stages: one piscina worker per stage, wired in a chain with
 * MessageChannels (forward up, backward down) plus a control port each. It feeds batches,
 * counts completed steps (credits) and collects evaluation results and statistics.
 */
export class Pipeline {
  readonly backends: string[] = [];
  /** Per stage: the backends tried before the one taken, and why each was not. */
  readonly skippedBackends: { candidate: string; reason: string }[][] = [];
  private readonly controls: PortChannel<ControlMessage | ReportMessage>[] = [];
  private readonly input: PortChannel<ForwardMessage>;
  private readonly tasks: Promise<StageStats>[];
  private readonly doneCount = new Map<number, number>();
  private sent = 0;
  private retired = 0;
  private readonly evalResults: Extract<ReportMessage, { kind: 'eval' }>[] = [];
  private statsReplies: StageStats[] = [];
  private weightReplies: Extract<ReportMessage, { kind: 'weights' }>[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;
  private ready = 0;
  private destroyed = false;

  private constructor(
    private readonly specs: StageSpec[],
    private readonly pool: Piscina,
    private readonly events: PipelineEvents,
  ) {
    const count = specs.length;
    const forward = specs.map(() => new MessageChannel()); // forward[s]: into stage s
    const backward = specs.slice(1).map(() => new MessageChannel()); // backward[s]: into stage s, from s+1
    const control = specs.map(() => new MessageChannel());
    this.input = new PortChannel(forward[0].port1);
    this.tasks = specs.map((spec, s) => {
      const ports: StagePorts = {
        forwardIn: forward[s].port2,
        control: control[s].port2,
        ...(s < count - 1 && { forwardOut: forward[s + 1].port1, backwardIn: backward[s].port2 }),
        ...(s > 0 && { backwardOut: backward[s - 1].port1 }),
      };
      const channel = new PortChannel<ControlMessage | ReportMessage>(control[s].port1);
      channel.onMessage((m) => this.receive(m as ReportMessage));
      this.controls.push(channel);
      const task: StageTask = { spec, ports };
      const promise = pool.run(task, { transferList: Object.values(ports) }) as Promise<StageStats>;
      promise.catch((error) => this.fail(new StageError(s, error)));
      return promise;
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
      await pipeline.waitUntil(() => pipeline.ready === specs.length);
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
    return this.sent - this.retired;
  }

  /** Sends a training batch into stage 0 (its buffers move to the worker). */
  feed(batch: Batch, step: number): void {
    this.throwIfFailed();
    this.sent += 1;
    this.input.send({ kind: 'forward', step, rows: batch.size, activations: batch.x, labels: batch.labels }, [
      batch.x.buffer as ArrayBuffer,
    ]);
  }

  /** Waits for a credit: fewer than `window` steps in flight. */
  credit(window: number): Promise<void> {
    return this.waitUntil(() => this.inFlight < window);
  }

  /** Waits until every step sent has been finished by every stage. */
  drain(): Promise<void> {
    return this.waitUntil(() => this.inFlight === 0);
  }

  /** Forward-only pass over batches; returns mean loss and accuracy. */
  async evaluate(split: EvalTag['split'], batches: Iterable<Batch>): Promise<{ loss: number; accuracy: number }> {
    this.throwIfFailed();
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

  /** Stops every stage (after the work sent so far) and closes the workers. */
  async stop(): Promise<StageStats[]> {
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
    for (const c of this.controls) c.close();
    this.input.close();
    await this.pool.destroy();
  }

  private receive(message: ReportMessage): void {
    switch (message.kind) {
      case 'ready':
        this.backends[message.stage] = message.backend;
        this.skippedBackends[message.stage] = message.skipped;
        this.ready += 1;
        break;
      case 'done': {
        const n = (this.doneCount.get(message.step) ?? 0) + 1;
        if (n === this.stages) {
          this.doneCount.delete(message.step);
          this.retired += 1;
        } else this.doneCount.set(message.step, n);
        if (message.loss !== undefined) {
          this.events.onStep?.({ step: message.step, loss: message.loss, correct: message.correct!, rows: message.rows! });
        }
        break;
      }
      case 'eval':
        this.evalResults.push(message);
        break;
      case 'stats':
        this.statsReplies.push(message.stats);
        break;
      case 'weights':
        this.weightReplies.push(message);
        break;
      case 'log':
        this.events.onLog?.(message);
        break;
    }
    this.poke();
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
