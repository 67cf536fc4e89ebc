/**
 * The stage worker: one long-running piscina task per stage. It builds the stage (or restores it
 * from a checkpoint), then serves messages until told to stop: forward batches (DNI steps 1-4)
 * and targets (step 5), in the order the schedule picks. Control messages (statistics,
 * checkpoints, re-wiring after a neighbour restarted) are answered between two steps.
 */
import type { MessagePort } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { selectBackend } from '../src/runtime/backend.js';
import { Stage, NonFiniteError } from '../src/pipeline/stage.js';
import { Inbox } from '../src/pipeline/inbox.js';
import { nextAction } from '../src/pipeline/schedule.js';
import type { StageSpec } from '../src/pipeline/stage-spec.js';
import type { BackwardMessage, ControlMessage, ForwardMessage, ReportMessage, Rewire, StageStats } from '../src/pipeline/protocol.js';
import { PortChannel } from '../src/transport/port-channel.js';
import { decodeStageState, encodeStageState } from '../src/checkpoint/stage-state.js';
import { writeFileAtomic } from '../src/checkpoint/atomic.js';
import { TraceRecorder, stageTid } from '../src/metrics/trace.js';

export interface StagePorts extends Rewire {
  forwardIn: MessagePort;
  control: MessagePort;
}

export interface StageTask {
  spec: StageSpec;
  ports: StagePorts;
}

export default async function runStage({ spec, ports }: StageTask): Promise<StageStats> {
  const control = new PortChannel<ReportMessage | ControlMessage>(ports.control);
  const report = (message: ReportMessage) => control.send(message);
  const links = new Links(ports);
  try {
    return await serve(spec, links, report, control);
  } catch (error) {
    const err = error as Error;
    if (err instanceof NonFiniteError) report({ kind: 'fatal', stage: spec.index, message: err.message });
    const wrapped = new Error(`stage ${spec.index}: ${err.message}`);
    wrapped.stack = `stage ${spec.index}: ${err.stack ?? err.message}`;
    throw wrapped;
  } finally {
    links.close();
    control.close();
  }
}

/** The stage's four data links; replaced when a neighbour is restarted. */
class Links {
  forwardOut?: PortChannel<ForwardMessage>;
  backwardOut?: PortChannel<BackwardMessage>;
  private forwardIn: PortChannel<ForwardMessage>;
  private backwardIn?: PortChannel<BackwardMessage>;
  private inbox: Inbox | null = null;

  constructor({ forwardIn, control: _control, ...others }: StagePorts) {
    this.forwardIn = new PortChannel(forwardIn);
    this.rewire(others);
  }

  listen(inbox: Inbox): void {
    this.inbox = inbox;
    this.forwardIn.onMessage((m) => inbox.pushForward(m));
    this.backwardIn?.onMessage((m) => inbox.pushBackward(m));
  }

  rewire(ports: Rewire): void {
    if (ports.forwardIn) {
      this.forwardIn.close();
      this.forwardIn = new PortChannel(ports.forwardIn);
      if (this.inbox) this.forwardIn.onMessage((m) => this.inbox!.pushForward(m));
    }
    if (ports.backwardIn) {
      this.backwardIn?.close();
      this.backwardIn = new PortChannel(ports.backwardIn);
      if (this.inbox) this.backwardIn.onMessage((m) => this.inbox!.pushBackward(m));
    }
    if (ports.forwardOut) {
      this.forwardOut?.close();
      this.forwardOut = new PortChannel(ports.forwardOut);
    }
    if (ports.backwardOut) {
      this.backwardOut?.close();
      this.backwardOut = new PortChannel(ports.backwardOut);
    }
  }

  close(): void {
    for (const c of [this.forwardIn, this.backwardIn, this.forwardOut, this.backwardOut]) c?.close();
  }
}

async function serve(
  spec: StageSpec,
  links: Links,
  report: (message: ReportMessage) => void,
  control: PortChannel<ReportMessage | ControlMessage>,
): Promise<StageStats> {
  const backend = await selectBackend(spec.backend);
  const timing = { busy: 0, wait: 0, send: 0 };
  const trace = new TraceRecorder(stageTid(spec.index));
  const timed = <T extends { step: number }>(send: (m: T) => void) => (message: T) => {
    const t0 = performance.now();
    send(message);
    const t1 = performance.now();
    timing.send += t1 - t0;
    trace.span('send', t0, t1, { step: message.step });
  };
  const stage = new Stage(spec, {
    forward: timed((m) => links.forwardOut!.send(m, [m.activations.buffer as ArrayBuffer])),
    backward: timed((m) => links.backwardOut!.send(m, m.gradient ? [m.gradient.buffer as ArrayBuffer] : [])),
    report,
  });
  let restoredStep: number | null = null;
  if (spec.restore) {
    try {
      const state = decodeStageState(readFileSync(spec.restore), spec.restore);
      stage.importState(state);
      restoredStep = state.step;
      timing.busy = (state.counters.busyMs ?? 0);
      timing.wait = (state.counters.waitMs ?? 0);
      timing.send = (state.counters.sendMs ?? 0);
    } catch (error) {
      stage.dispose();
      throw new Error(`cannot restore from ${spec.restore}: ${(error as Error).message}`);
    }
  }
  if (spec.fault?.kind === 'nan') stage.injectNaNAt = spec.fault.step;

  const stats = (): StageStats => {
    const synth = stage.takeSynthesizerMeans();
    return {
      stage: spec.index,
      busySeconds: timing.busy / 1000,
      waitSeconds: timing.wait / 1000,
      sendSeconds: timing.send / 1000,
      ...stage.counters,
      synthesizerLoss: synth.loss,
      synthesizerCosine: synth.cosine,
    };
  };

  const inbox = new Inbox();
  links.listen(inbox);
  // pipelined bookkeeping: batches sent on whose target is still to come, and the last flush
  const hasTargets = spec.mode !== 'backprop' && spec.index < spec.count - 1;
  const awaiting: number[] = [];
  let flushedBefore = -1;
  control.onMessage((m) => {
    switch (m.kind) {
      case 'stats':
        return report({ kind: 'stats', stats: stats(), trace: trace.take(), traceDropped: trace.dropped });
      case 'weights':
        return report({ kind: 'weights', stage: spec.index, values: stage.net.getWeights() });
      case 'checkpoint': {
        const state = stage.exportState(m.step, { busyMs: timing.busy, waitMs: timing.wait, sendMs: timing.send });
        const bytes = encodeStageState(state);
        writeFileAtomic(m.file, bytes);
        return report({ kind: 'checkpointed', stage: spec.index, step: m.step, file: m.file, bytes: bytes.length });
      }
      case 'rewire':
        links.rewire(m.ports);
        return report({ kind: 'rewired', stage: spec.index });
      case 'abandon': {
        const steps = new Set(m.steps);
        inbox.discard(steps);
        awaiting.splice(0, awaiting.length, ...awaiting.filter((s) => !steps.has(s)));
        return stage.abandon(steps);
      }
      case 'stop':
        return inbox.requestStop();
    }
  });
  report({ kind: 'ready', stage: spec.index, backend: backend.name, skipped: backend.skipped, restoredStep });

  try {
    // The loop: take what the schedule says, do it, measure it.
    for (;;) {
      const action = nextAction({
        mode: spec.mode,
        schedule: spec.schedule,
        awaitingTargets: awaiting.length,
        oldestFlushed: awaiting.length > 0 && awaiting[0] < flushedBefore,
        awaitingGradient: stage.awaitingGradient,
        forwardQueued: inbox.forward.length,
        backwardQueued: inbox.backward.length,
        stopRequested: inbox.stopRequested,
      });
      if (action === 'stop') break;
      const t0 = performance.now();
      if (action === 'wait') {
        await inbox.next();
        const t1 = performance.now();
        timing.wait += t1 - t0;
        trace.span('wait', t0, t1);
        continue;
      }
      let span: [string, number];
      if (action === 'forward') {
        const message = inbox.forward.shift()!;
        span = [message.eval ? 'evaluate' : message.marker ? 'flush' : 'forward', message.step];
        injectFault(spec, message);
        stage.forward(message);
        if (message.marker) flushedBefore = (awaiting[awaiting.length - 1] ?? -1) + 1;
        // a batch dropped here before going up gets no target
        else if (hasTargets && !message.eval && stage.lastDroppedBeforeSending !== message.step) awaiting.push(message.step);
      } else {
        const message = inbox.backward.shift()!;
        span = [spec.mode === 'backprop' ? 'backward' : 'target', message.step];
        const i = awaiting.indexOf(message.step);
        if (i >= 0) awaiting.splice(i, 1);
        stage.backward(message);
      }
      const t1 = performance.now();
      timing.busy += t1 - t0;
      trace.span(span[0], t0, t1, span[1] >= 0 ? { step: span[1] } : undefined);
      await yieldToEvents(); // let messages that arrived meanwhile be queued before choosing again
    }
    return stats();
  } finally {
    stage.dispose();
  }
}

/** SYNTHGRAD_FAULT, a testing aid: fail on purpose at one training step. */
function injectFault(spec: StageSpec, message: ForwardMessage): void {
  const fault = spec.fault;
  if (!fault || message.eval || message.step !== fault.step) return;
  if (fault.kind === 'throw') throw new Error(`injected fault (SYNTHGRAD_FAULT) at step ${fault.step}`);
  if (fault.kind === 'exit') process.exit(70);
}
