/**
 * A stage's whole life: it builds the stage (or restores it from a checkpoint), then serves
 * messages until told to stop: forward batches (DNI steps 1-4) and targets (step 5), in the
 * order the schedule picks. Control messages (statistics, checkpoints, re-wiring after a
 * neighbour restarted) are answered between two steps. The transport is behind DataLinks.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { selectBackend } from '../runtime/backend.js';
import { lowerThreadPriority } from '../runtime/thread-priority.js';
import { threadCpu } from '../runtime/thread-cpu.js';
import { stageMemory } from '../runtime/memory.js';
import { Stage } from './stage.js';
import { Inbox } from './inbox.js';
import { nextAction } from './schedule.js';
import type { StageSpec } from './stage-spec.js';
import type { ControlMessage, ForwardMessage, ReportMessage, StageStats } from './protocol.js';
import type { Channel } from '../transport/channel.js';
import type { DataLinks } from '../transport/data-links.js';
import { decodeStageState, encodeStageState } from '../checkpoint/stage-state.js';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { TraceRecorder, stageTid } from '../metrics/trace.js';
import { DurationHistogram } from '../metrics/duration-histogram.js';

/**
 * Where the links can be drained (MessagePorts), the actions a stage takes between two event-loop
 * turns; control messages (statistics, checkpoints, stop) wait at most this long, and a waiting
 * stage turns the loop at once.
 */
const ACTIONS_PER_EVENT_TURN = 16;

export async function serveStage(
  spec: StageSpec,
  links: DataLinks,
  control: Channel<ReportMessage | ControlMessage>,
): Promise<StageStats> {
  const report = (message: ReportMessage) => control.send(message);
  const backend = await selectBackend(spec.backend);
  const timing = { busy: 0, wait: 0, send: 0, receive: 0 };
  const trace = new TraceRecorder(stageTid(spec.index));
  const sends = new DurationHistogram();
  const receives = new DurationHistogram();
  // every message the stage sends while it works counts as sending: activations, targets, and its
  // reports to the orchestrator (done, evaluation results); replies to control requests are sent
  // while receiving
  const timed = <T extends object>(send: (m: T) => void) => (message: T) => {
    const t0 = performance.now();
    send(message);
    const t1 = performance.now();
    timing.send += t1 - t0;
    sends.add(t1 - t0);
    trace.span('send', t0, t1, 'step' in message && typeof message.step === 'number' ? { step: message.step } : undefined);
  };
  const stage = new Stage(spec, {
    forward: timed((m) => links.forwardOut!.send(m, [m.activations.buffer as ArrayBuffer])),
    backward: timed((m) => links.backwardOut!.send(m, m.gradient ? [m.gradient.buffer as ArrayBuffer] : [])),
    report: timed(report),
  });
  let restoredStep: number | null = null;
  if (spec.restore || spec.restoreState) {
    const source = spec.restore ?? 'the checkpoint sent by the orchestrator';
    try {
      const state = decodeStageState(spec.restoreState ?? readFileSync(spec.restore!), source);
      stage.importState(state);
      restoredStep = state.step;
      timing.busy = (state.counters.busyMs ?? 0);
      timing.wait = (state.counters.waitMs ?? 0);
      timing.send = (state.counters.sendMs ?? 0);
      timing.receive = (state.counters.receiveMs ?? 0);
    } catch (error) {
      stage.dispose();
      throw new Error(`cannot restore from ${source}: ${(error as Error).message}`);
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
      sends: sends.count,
      sendMedianMs: sends.median(),
      receiveSeconds: timing.receive / 1000,
      receives: receives.count,
      receiveMedianMs: receives.median(),
      ...cpuSinceReady(),
      memory: stageMemory(),
      ...stage.counters,
      synthesizerLoss: synth.loss,
      synthesizerCosine: synth.cosine,
      ...(stage.syntheticInput && { inputModelLoss: stage.syntheticInput.takeLossMean() }),
    };
  };

  const inbox = new Inbox();
  links.listen(inbox);
  // batches this stage trained on whose target is still to come (pipelined, complete unlock), and the last flush
  const hasTargets = spec.mode !== 'backprop' && spec.index < spec.count - 1;
  // complete unlock: the stage above runs on x_t without waiting for us, so its target for t may come
  // before our own pass on t; it waits until then
  const holdTargets = spec.unlocked && hasTargets;
  const ready = <T>(queue: T[], ok: (m: T) => boolean) => (queue.length > 0 && ok(queue[0]) ? queue.length : 0);
  const awaiting: number[] = [];
  let flushedBefore = -1;
  control.onMessage((m) => {
    switch (m.kind) {
      case 'stats':
        return report({ kind: 'stats', stats: stats(), trace: trace.take(), traceDropped: trace.dropped });
      case 'weights':
        return report({ kind: 'weights', stage: spec.index, values: stage.net.getWeights() });
      case 'checkpoint': {
        const state = stage.exportState(m.step, { busyMs: timing.busy, waitMs: timing.wait, sendMs: timing.send, receiveMs: timing.receive });
        const bytes = encodeStageState(state);
        if (m.inline) return report({ kind: 'checkpointed', stage: spec.index, step: m.step, file: m.file, bytes: bytes.length, state: bytes });
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
      case 'priority': {
        const why = lowerThreadPriority(m.nice);
        if (why) return report({ kind: 'log', stage: spec.index, level: 'warn', msg: `stage priority left unchanged: ${why}` });
        return;
      }
      case 'stop':
        return inbox.requestStop();
    }
  });
  // CPU times count from here: loading tfjs and building the stage (about 0.5 s of CPU) are left out
  const atReady = threadCpu();
  const cpuSinceReady = () => {
    const now = threadCpu();
    return now && atReady ? { cpuSeconds: now.cpuSeconds - atReady.cpuSeconds, runQueueSeconds: now.runQueueSeconds - atReady.runQueueSeconds } : {};
  };
  report({ kind: 'ready', stage: spec.index, backend: backend.name, adapter: backend.adapter, skipped: backend.skipped, restoredStep });

  let actionsSinceTurn = 0;
  try {
    // The loop: take what the schedule says, do it, measure it.
    for (;;) {
      const action = nextAction({
        mode: spec.mode,
        schedule: spec.schedule,
        awaitingTargets: awaiting.length,
        oldestFlushed: awaiting.length > 0 && awaiting[0] < flushedBefore,
        awaitingGradient: stage.awaitingGradient,
        forwardQueued: ready(inbox.forward, (m) => stage.ready(m)),
        backwardQueued: ready(inbox.backward, (m) => !holdTargets || awaiting.includes(m.step)),
        inputQueued: inbox.input.length,
        stopRequested: inbox.stopRequested,
      });
      if (action === 'stop') break;
      const t0 = performance.now();
      if (action === 'wait') {
        await inbox.next();
        actionsSinceTurn = 0; // waiting turned the event loop
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
        else if (hasTargets && !message.eval && !stage.syntheticInput && stage.lastDroppedBeforeSending !== message.step) awaiting.push(message.step);
      } else if (action === 'input') {
        const message = inbox.input.shift()!;
        span = ['input', message.step];
        stage.input(message);
        if (hasTargets) awaiting.push(message.step);
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
      // receive the messages that arrived meanwhile before choosing again: taken straight from the
      // links where they can, with an event-loop turn (control messages, other transports) every so often
      if (links.drain && actionsSinceTurn < ACTIONS_PER_EVENT_TURN) {
        links.drain(inbox);
        actionsSinceTurn += 1;
      } else {
        await yieldToEvents();
        actionsSinceTurn = 0;
      }
      const t2 = performance.now();
      timing.receive += t2 - t1;
      receives.add(t2 - t1);
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
