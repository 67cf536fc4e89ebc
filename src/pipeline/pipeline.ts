import type { Batch } from '../data/index.js';
import { performance } from 'node:perf_hooks';
import type { ControlMessage, EvalTag, ReportMessage, StageStats } from '../stage/protocol.js';
import { doneReportsPerStep, type StageSpec } from '../stage/stage-spec.js';
import { doneCredit, doneLoss, doneStages } from './done.js';
import { StageError } from './stage-error.js';
import type { TraceEvent } from '../metrics/trace.js';
import type { AdapterInfo } from '../runtime/webgpu.js';
import type { StageHost } from './stage-host.js';
import { LostSteps } from './lost-steps.js';
import { WriteError } from '../write-error.js';

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
  /** Messages may have been lost (the transport says why); `suspects` batches were in flight. */
  onInterrupted?(why: string, suspects: number): void;
  /** These batches were lost in transit and abandoned at every stage. */
  onLost?(steps: number[], why: string): void;
  /** Trace spans a stage sent with its statistics (the pipeline keeps none). */
  onTrace?(events: TraceEvent[]): void;
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

type Report<K extends ReportMessage['kind']> = Extract<ReportMessage, { kind: K }>;
/** Reports that answer a request sent to every stage. */
type ReplyKind = 'stats' | 'weights' | 'checkpointed';

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
  /** Per stage, the GPU adapter its webgpu backend runs on (null on other backends). */
  readonly adapters: (AdapterInfo | null)[] = [];
  /** Per stage: the step its checkpoint was taken at, when it was restored from one. */
  readonly restoredSteps: (number | null)[] = [];
  restarts = 0;
  /** Batches lost with failed stages or in transit. */
  lostSteps = 0;
  /** Of those, batches lost in transit (after an interruption of the transport). */
  lostInTransit = 0;
  /** Interruptions of the transport the stages' host reported. */
  interruptions = 0;
  /** Evaluation batches and requests sent again after an interruption (their answers were missing). */
  resent = 0;
  /** Steps sent and not yet finished by every stage, with the count of stages done. */
  private readonly inFlightSteps = new Map<number, number>();
  private readonly abandoned = new Set<number>();
  /** Results of the evaluation pass under way, by batch index, and its batches (to send again). */
  private evalResults = new Map<number, Report<'eval'>>();
  /**
   * The gradient probe under way: each stage's cosine as it reports; `lost` with a failed stage, or
   * when nothing came for it for lossQuietMs after an interruption (`quietSince`: its suspect time).
   */
  private probing: { replies: Map<number, number | null>; lost: boolean; quietSince: number | null } | null = null;
  private evalSplit: EvalTag['split'] | null = null;
  /** Evaluation batches sent, by index; an answered one is let go (null). */
  private evalBatches: (Batch | null)[] = [];
  /** The evaluation batches not yet made and sent (null: all sent). */
  private evalSource: Iterator<Batch> | null = null;
  /** The request every stage must answer now (stats, weights, checkpoint), and the answers so far. */
  private asking: { message: (stage: number) => ControlMessage; kind: ReplyKind; replies: Map<number, ReportMessage> } | null = null;
  /** Trace spans each stage could not keep (the spans themselves go to events.onTrace). */
  readonly traceDropped: number[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;
  private readonly ready = new Set<number>();
  /** Rewire messages sent to neighbours of a restarted stage and not yet acknowledged. */
  private rewiresPending = 0;
  private destroyed = false;
  private stopping = false;
  /** Every stage has been ready once (failures before that end the start, no restart). */
  private started = false;
  /** Lost-batch and stall detection, when the host's transport may lose messages. */
  private readonly lost: LostSteps | null;
  private readonly lastReport: number[] = [];
  private readonly lastDone: number[] = [];
  private lastProgress = performance.now();
  private watchTimer: NodeJS.Timeout | null = null;
  /** `done` reports that finish a training step (an unlocked stage sends two; a restart keeps the config). */
  private readonly reportsPerStep: number;

  private constructor(
    private readonly specs: StageSpec[],
    private readonly host: StageHost,
    private readonly events: PipelineEvents,
  ) {
    this.lost = host.delivery ? new LostSteps(host.delivery.lossQuietMs) : null;
    this.reportsPerStep = doneReportsPerStep(specs);
  }

  /**
   * Starts every stage (by default one worker thread each) and waits until every stage has its
   * backend and weights.
   */
  static async start(specs: StageSpec[], events: PipelineEvents, host: StageHost): Promise<Pipeline> {
    const pipeline = new Pipeline([...specs], host, events);
    try {
      await host.start(specs, {
        report: (m) => pipeline.receive(m),
        failed: (stage, error) => pipeline.stageFailed(pipeline.specs[stage], error),
        fail: (error) => pipeline.fail(error),
        interrupted: (why) => pipeline.interrupted(why),
      });
      await pipeline.waitUntil(() => pipeline.ready.size === specs.length);
      pipeline.started = true;
      pipeline.watchDelivery();
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
    this.evalResults = new Map();
    this.evalSplit = split;
    // kept to be sent again after an interruption (a transport that can lose messages does not move buffers)
    this.evalBatches = [];
    this.evalSource = batches[Symbol.iterator]();
    try {
      this.sendEvalBatches();
      await this.waitUntil(() => this.evalSource === null && this.evalResults.size === this.evalBatches.length);
    } finally {
      this.evalBatches = [];
      this.evalSource = null;
      this.evalSplit = null;
    }
    let lossSum = 0;
    let correct = 0;
    let rows = 0;
    for (const r of this.evalResults.values()) {
      lossSum += r.lossSum;
      correct += r.correct;
      rows += r.rows;
    }
    return { loss: lossSum / rows, accuracy: correct / rows };
  }

  /**
   * Makes and sends evaluation batches until one per stage and one more are unanswered: enough to
   * keep every stage busy, while the memory an evaluation takes does not grow with its split (the
   * MNIST test set is 30 MB, CIFAR-10's 123 MB): a split is never made, or in the stages' inboxes,
   * whole.
   */
  private sendEvalBatches(): void {
    while (this.evalSource && this.evalBatches.length - this.evalResults.size <= this.stages) {
      const next = this.evalSource.next();
      if (next.done) {
        this.evalSource = null;
        return;
      }
      this.evalBatches.push(next.value);
      this.sendEval(this.evalBatches.length - 1);
    }
  }

  private sendEval(index: number): void {
    const batch = this.evalBatches[index]!;
    const tag: EvalTag = { split: this.evalSplit!, index };
    this.host.send({ kind: 'forward', step: -1, rows: batch.size, activations: batch.x, labels: batch.labels, eval: tag }, [
      batch.x.buffer as ArrayBuffer,
    ]);
  }

  /**
   * The gradient probe (train.probeEvery) on `batch`, with no training batch in flight: up in
   * training mode, the true gradient down; each stage's cosine of its source's gradient with the
   * true one (null for the last stage). Null when the probe was lost with a stage that failed and
   * was restarted (the other stages forgot it).
   */
  async probe(batch: Batch): Promise<(number | null)[] | null> {
    await this.drain();
    const probing = { replies: new Map<number, number | null>(), lost: false, quietSince: null as number | null };
    this.probing = probing;
    this.host.send({ kind: 'forward', step: -1, rows: batch.size, activations: batch.x, labels: batch.labels, probe: true }, [batch.x.buffer as ArrayBuffer]);
    try {
      await this.waitUntil(() => probing.lost || probing.replies.size === this.stages);
    } finally {
      this.probing = null;
    }
    return probing.lost ? null : this.specs.map((_, s) => probing.replies.get(s)!);
  }

  /** Each stage's counters; synthesizer means are since the previous call. */
  async stats(): Promise<StageStats[]> {
    return (await this.ask({ kind: 'stats' }, 'stats')).map((r) => r.stats);
  }

  /** Lowers stage `stage`'s scheduling priority to `nice` (0 leaves it as it is). */
  prioritize(stage: number, nice: number): void {
    if (nice > 0) this.host.control(stage, { kind: 'priority', nice });
  }

  /** Every stage's weights (parameters, then BatchNorm statistics), in stage order. */
  async weights(): Promise<Float32Array[][]> {
    return (await this.ask({ kind: 'weights' }, 'weights')).map((r) => r.values);
  }

  /** Drains, then has every stage write its state to files[stage]; resolves with the bytes written. */
  async checkpoint(files: string[], step: number): Promise<number[]> {
    await this.drain();
    const replies = await this.ask((s) => ({ kind: 'checkpoint', file: files[s], step }), 'checkpointed');
    const unwritten = replies.find((r) => r.error !== undefined);
    if (unwritten) throw new WriteError(unwritten.file, new Error(unwritten.error));
    return replies.map((r) => r.bytes);
  }

  /** Sends a request to every stage and waits for one answer of `kind` from each, in stage order. */
  private async ask<K extends ReplyKind>(request: ControlMessage | ((stage: number) => ControlMessage), kind: K): Promise<Report<K>[]> {
    const message = (s: number): ControlMessage => (typeof request === 'function' ? request(s) : request);
    const asking = { message, kind, replies: new Map<number, ReportMessage>() };
    this.asking = asking;
    for (let s = 0; s < this.stages; s++) this.host.control(s, message(s));
    try {
      await this.waitUntil(() => asking.replies.size === this.stages);
    } finally {
      this.asking = null;
    }
    return [...asking.replies.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r as Report<K>);
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
    if (this.watchTimer) clearInterval(this.watchTimer);
    await this.host.destroy();
  }

  private stageFailed(spec: StageSpec, error: StageError): void {
    if (this.destroyed || this.failure) return;
    const s = spec.index;
    const decision: RestartDecision =
      !error.retryable || this.stopping || !this.started ? { restart: false } : (this.events.onStageFailure?.(s, error) ?? { restart: false });
    if (!decision.restart) return this.fail(error);
    this.restart(spec, decision.restore, error);
  }

  /**
   * Replaces a failed stage: the batches in flight, and the gradient probe under way, are lost
   * (every stage forgets them), the new instance restores its state, and the host links its
   * neighbours to it.
   */
  private restart(spec: StageSpec, restore: string | undefined, error: StageError): void {
    const s = spec.index;
    this.restarts += 1;
    this.ready.delete(s);
    this.lastProgress = performance.now(); // the replacement gets its time to start
    const lost = [...this.inFlightSteps.keys()];
    this.abandon(lost, s, this.loseProbe());
    const { fault: _fault, restoreState: _state, ...rest } = spec; // a deliberate fault fires once
    const respawned: StageSpec = { ...rest, ...(restore ? { restore } : {}) };
    if (!restore) delete respawned.restore;
    this.specs[s] = respawned;
    // the neighbours acknowledge new links (if any) before any new batch is fed
    this.rewiresPending += this.host.replace(respawned);
    this.events.onRestart?.(s, lost.length, error);
    this.poke();
  }

  /** Marks the probe under way lost (its waiter wakes, probe() returns null); false when none is unanswered. */
  private loseProbe(): boolean {
    const probing = this.probing;
    if (probing === null || probing.lost || probing.replies.size === this.stages) return false;
    probing.lost = true;
    return true;
  }

  /**
   * Every stage but `except` forgets these steps (and with `probe`, the gradient probe); they no
   * longer count as in flight. A probe is no training step: not counted in lostSteps.
   */
  private abandon(steps: number[], except = -1, probe = false): void {
    for (const step of steps) {
      this.abandoned.add(step);
      this.inFlightSteps.delete(step);
    }
    this.lostSteps += steps.length;
    const message: ControlMessage = { kind: 'abandon', steps, ...(probe && { probe: true as const }) };
    for (let i = 0; i < this.stages; i++) if (i !== except) this.host.control(i, message);
  }

  /**
   * The transport may have lost messages (and is connected again). The steps in flight become
   * suspects (LostSteps); evaluation batches and requests whose answers are missing are sent
   * again: answering them twice changes nothing, and a second answer is ignored.
   */
  private interrupted(why: string): void {
    if (this.destroyed || this.failure) return;
    const now = performance.now();
    this.interruptions += 1;
    this.lastProgress = now;
    this.lost?.interrupted(this.inFlightSteps.keys(), now);
    if (this.probing) this.probing.quietSince = now; // the probe's messages may be gone too
    this.events.onInterrupted?.(why, this.inFlightSteps.size);
    const asking = this.asking;
    if (asking) {
      for (let s = 0; s < this.stages; s++) {
        if (asking.replies.has(s)) continue;
        this.host.control(s, asking.message(s));
        this.resent += 1;
      }
    }
    for (let i = 0; i < this.evalBatches.length; i++) {
      if (this.evalResults.has(i)) continue;
      this.sendEval(i);
      this.resent += 1;
    }
    if (this.stopping) for (let s = 0; s < this.stages; s++) this.host.control(s, { kind: 'stop' });
    this.poke();
  }

  /** Lost batches that nothing moves any more, and stalls (hosts whose messages can be lost). */
  private watchDelivery(): void {
    const delivery = this.host.delivery;
    if (!delivery || this.watchTimer) return;
    this.watchTimer = setInterval(() => {
      if (this.destroyed || this.failure) return;
      const now = performance.now();
      const lost = this.lost!.overdue(this.inFlightSteps, now);
      if (lost.length > 0) this.markLost(lost, `no batch finished for ${(delivery.lossQuietMs / 1000).toFixed(1)} s after the interruption`);
      const probeQuiet = this.probing?.quietSince ?? null;
      if (probeQuiet !== null && now - probeQuiet > delivery.lossQuietMs && this.loseProbe()) {
        this.abandon([], -1, true);
        this.poke();
      }
      if (this.waiters.length > 0 && now - this.lastProgress > delivery.stallTimeoutMs) this.fail(this.stalled(now, delivery.stallTimeoutMs));
    }, 250); // not unref'd: a run waiting on its stages is alive (destroy() clears it)
  }

  private markLost(steps: number[], why: string): void {
    this.lostInTransit += steps.length;
    this.abandon(steps);
    this.events.onLost?.(steps, why);
    this.poke();
  }

  /** The run waits on stages that said nothing for too long: which, and what for. */
  private stalled(now: number, limitMs: number): Error {
    const ago = (s: number): string => (this.lastReport[s] === undefined ? 'never reported' : `last report ${((now - this.lastReport[s]) / 1000).toFixed(0)} s ago`);
    const all = [...Array(this.stages).keys()];
    let waitingOn: number[];
    let what: string;
    if (this.asking) {
      const asking = this.asking;
      waitingOn = all.filter((s) => !asking.replies.has(s));
      what = `an answer to '${asking.message(0).kind}'`;
    } else if (this.probing) {
      const replies = this.probing.replies;
      waitingOn = all.filter((s) => !replies.has(s));
      what = 'the gradient probe';
    } else if (this.evalSplit !== null) {
      waitingOn = [this.stages - 1];
      what = `${this.evalBatches.length - this.evalResults.size} ${this.evalSplit} results`;
    } else if (this.inFlightSteps.size > 0) {
      const oldest = Math.min(...this.inFlightSteps.keys());
      waitingOn = all.filter((s) => (this.lastDone[s] ?? -1) < oldest);
      what = `step ${oldest} to be finished`;
    } else {
      waitingOn = all.filter((s) => !this.ready.has(s));
      what = 'the stages to be ready';
    }
    const list = waitingOn.map((s) => `stage ${s} (${ago(s)})`).join(', ');
    return new Error(
      `no progress for ${(limitMs / 1000).toFixed(1)} s: waiting for ${what} from ${list || 'the stages'}; ` +
        'the stage processes or the NATS server may be stuck or cut off (their logs say more)',
    );
  }

  private receive(message: ReportMessage): void {
    if ('stage' in message) this.lastReport[message.stage] = performance.now();
    else this.lastReport[message.stats.stage] = performance.now();
    this.lastProgress = performance.now();
    switch (message.kind) {
      case 'ready':
        this.backends[message.stage] = message.backend;
        this.skippedBackends[message.stage] = message.skipped;
        this.adapters[message.stage] = message.adapter;
        this.restoredSteps[message.stage] = message.restoredStep;
        this.ready.add(message.stage);
        break;
      case 'done':
        this.done(message);
        break;
      case 'probe':
        if (this.probing) {
          this.probing.replies.set(message.stage, message.cosine);
          if (this.probing.quietSince !== null) this.probing.quietSince = performance.now();
        }
        break;
      case 'eval':
        // a batch sent again after an interruption may be answered twice: the first answer counts
        if (message.tag.split === this.evalSplit && !this.evalResults.has(message.tag.index)) {
          this.evalResults.set(message.tag.index, message);
          // kept only to be sent again while unanswered
          if (message.tag.index < this.evalBatches.length) this.evalBatches[message.tag.index] = null;
          this.sendEvalBatches();
        }
        break;
      case 'stats':
        this.events.onTrace?.(message.trace);
        this.traceDropped[message.stats.stage] = message.traceDropped;
        this.reply(message.stats.stage, message);
        break;
      case 'weights':
      case 'checkpointed':
        this.reply(message.stage, message);
        break;
      case 'rewired':
        this.rewiresPending -= 1;
        break;
      case 'log':
        this.events.onLog?.(message);
        break;
    }
    this.poke();
  }

  private reply(stage: number, message: Report<ReplyKind>): void {
    const asking = this.asking;
    if (asking && asking.kind === message.kind && !asking.replies.has(stage)) asking.replies.set(stage, message);
  }

  private done(message: Report<'done'>): void {
    if (this.abandoned.has(message.step)) return;
    const count = this.inFlightSteps.get(message.step);
    if (count === undefined) return;
    for (const s of doneStages(message)) this.lastDone[s] = Math.max(this.lastDone[s] ?? -1, message.step);
    const credit = doneCredit(message, this.stages);
    if (count + credit >= this.reportsPerStep) {
      this.inFlightSteps.delete(message.step);
      // links deliver in order: suspects older than a finished step will never finish
      const lost = this.lost?.finished(message.step, this.inFlightSteps, performance.now()) ?? [];
      if (lost.length > 0) this.markLost(lost, `step ${message.step}, sent after them, finished first`);
    } else this.inFlightSteps.set(message.step, count + credit);
    const batch = doneLoss(message);
    if (batch) this.events.onStep?.({ step: message.step, ...batch });
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
