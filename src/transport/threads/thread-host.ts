import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { PortChannel } from './port-channel.js';
import type { ControlMessage, ForwardMessage, InputMessage, LinkEnds, ReportMessage, StageStats } from '../../stage/protocol.js';
import type { StageSpec } from '../../stage/stage-spec.js';
import { StageError } from '../../pipeline/stage-error.js';
import type { StageHost, StageHostEvents } from '../../pipeline/stage-host.js';
import { portsOf, type PortEnds, type StagePorts, type StageTask } from './port-links.js';
import type { StageTaskResult } from './stage-worker.js';

const workerFile = new URL('./stage-worker.js', import.meta.url);

/**
 * Each stage thread's young generation (V8's nursery), in MB. V8 grows it to 48 MB in a busy
 * isolate; a stage's short-lived objects need far less, and a smaller nursery is collected
 * sooner, freeing the message buffers it holds. 12 MB kept each stage thread's V8 heap at 21-24 MB
 * over 14 epochs of mnist-cdni, where it grew from 30 to 46 MB, at the same samples/s (docs/performance.md,
 * Memory).
 */
export const STAGE_YOUNG_GENERATION_MB = 12;

/**
 * Stages in worker threads: one piscina worker per stage, wired in a chain with MessageChannels
 * (forward up, backward down) plus a control port each, and (complete unlock) a data port from the
 * orchestrator into each stage above the first. A replacement gets new ports and its neighbours are
 * re-wired to them.
 */
export class ThreadStageHost implements StageHost {
  private pool: Piscina | null = null;
  private events!: StageHostEvents;
  private count = 0;
  private readonly controls: PortChannel<ControlMessage | ReportMessage>[] = [];
  private input!: PortChannel<ForwardMessage>;
  /** Complete unlock: the orchestrator's data link into stage s > 0. */
  private readonly dataInputs: PortChannel<InputMessage>[] = [];
  private readonly tasks: Promise<StageStats>[] = [];

  async start(specs: StageSpec[], events: StageHostEvents): Promise<void> {
    this.events = events;
    this.count = specs.length;
    this.pool = new Piscina({
      filename: workerFile.href,
      minThreads: specs.length,
      maxThreads: specs.length,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      // 'sync' would park an idle worker in Atomics.wait, starving its MessagePort listeners.
      atomics: 'disabled',
      resourceLimits: { maxYoungGenerationSizeMb: STAGE_YOUNG_GENERATION_MB },
    });
    const count = specs.length;
    const forward = specs.map(() => new MessageChannel()); // forward[s]: into stage s
    const backward = specs.slice(1).map(() => new MessageChannel()); // backward[s]: into stage s, from s+1
    // DFA: error[s], from the last stage into stage s
    const error = specs[0].mode === 'dfa' ? specs.slice(1).map(() => new MessageChannel()) : [];
    this.input = new PortChannel(forward[0].port1);
    specs.forEach((spec, s) => {
      this.launch(spec, {
        forwardIn: forward[s].port2,
        ...(s < count - 1 && { forwardOut: forward[s + 1].port1, backwardIn: backward[s].port2 }),
        ...(s > 0 && { backwardOut: backward[s - 1].port1 }),
        ...(spec.syntheticInputs && { inputIn: this.dataInput(s) }),
        ...(error[s] && { errorIn: error[s].port2 }),
        ...(s === count - 1 && error.length > 0 && { errorOut: error.map((c) => c.port1) }),
      });
    });
  }

  send(message: ForwardMessage, transfer: ArrayBuffer[] = []): void {
    this.input.send(message, transfer);
  }

  sendInput(stage: number, message: InputMessage, transfer: ArrayBuffer[] = []): void {
    this.dataInputs[stage].send(message, transfer);
  }

  control(stage: number, message: ControlMessage): void {
    this.controls[stage].send(message);
  }

  finished(): Promise<StageStats[]> {
    return Promise.all(this.tasks);
  }

  replace(spec: StageSpec): number {
    const s = spec.index;
    const last = this.count - 1;
    let rewires = 0;
    // New links to the replacement; the neighbours acknowledge before any new batch is fed.
    const forwardIn = new MessageChannel();
    const data: PortEnds & { forwardIn: MessagePort } = { forwardIn: forwardIn.port2 };
    const dfa = spec.mode === 'dfa' && last > 0;
    // DFA: the error links of the replacement (into it from the last stage, or out of it to every stage below)
    const errors = dfa && s === last ? Array.from({ length: last }, () => new MessageChannel()) : [];
    const errorIn = dfa && s < last ? new MessageChannel() : null;
    if (errorIn) {
      data.errorIn = errorIn.port2;
      const errorOut: (MessagePort | undefined)[] = [];
      errorOut[s] = errorIn.port1;
      rewires += 1;
      this.controls[last].send({ kind: 'rewire', ends: { errorOut } }, [errorIn.port1]);
    }
    if (errors.length > 0) data.errorOut = errors.map((c) => c.port1);
    if (s === 0) {
      this.input.close();
      this.input = new PortChannel(forwardIn.port1);
    } else {
      const down = new MessageChannel();
      data.backwardOut = down.port1;
      rewires += 1;
      const ends: PortEnds = { forwardOut: forwardIn.port1, backwardIn: down.port2, ...(errors[s - 1] && { errorIn: errors[s - 1].port2 }) };
      this.controls[s - 1].send({ kind: 'rewire', ends: ends as LinkEnds }, portsOf(ends));
    }
    for (let below = 0; below < s - 1 && errors.length > 0; below++) {
      rewires += 1;
      this.controls[below].send({ kind: 'rewire', ends: { errorIn: errors[below].port2 } }, [errors[below].port2]);
    }
    if (s < last) {
      const up = new MessageChannel();
      const back = new MessageChannel();
      data.forwardOut = up.port1;
      data.backwardIn = back.port2;
      rewires += 1;
      this.controls[s + 1].send({ kind: 'rewire', ends: { forwardIn: up.port2, backwardOut: back.port1 } }, [up.port2, back.port1]);
    }
    if (spec.syntheticInputs) data.inputIn = this.dataInput(s);
    this.launch(spec, data);
    return rewires;
  }

  /** A new data link from the orchestrator into stage s (complete unlock); returns the stage's end. */
  private dataInput(s: number): MessagePort {
    const channel = new MessageChannel();
    this.dataInputs[s]?.close();
    this.dataInputs[s] = new PortChannel(channel.port1);
    return channel.port2;
  }

  async destroy(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    this.pool = null;
    for (const c of [...this.controls, ...this.dataInputs]) c?.close();
    this.input?.close();
    await pool.destroy();
  }

  /** Starts stage `spec.index` in a worker with the given data ports and a new control port. */
  private launch(spec: StageSpec, data: PortEnds & { forwardIn: MessagePort }): void {
    const s = spec.index;
    const control = new MessageChannel();
    const ports: StagePorts = { ...data, control: control.port2 };
    const channel = new PortChannel<ControlMessage | ReportMessage>(control.port1);
    channel.onMessage((m) => this.events.report(m as ReportMessage));
    this.controls[s]?.close();
    this.controls[s] = channel;
    const task: StageTask = { spec, ports };
    const transferList = portsOf(ports);
    const result = this.pool!.run(task, { transferList }) as Promise<StageTaskResult>;
    // a stage that threw says so in its result; a rejection means its thread died (e.g. it exited)
    const promise = result.then(
      (r) => {
        if ('failure' in r) throw new StageError(s, r.failure);
        return r.stats;
      },
      (error: Error) => {
        throw new StageError(s, error);
      },
    );
    this.tasks[s] = promise;
    promise.catch((error: StageError) => {
      if (this.tasks[s] === promise) this.events.failed(s, error);
    });
  }
}
