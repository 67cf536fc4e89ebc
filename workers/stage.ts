/**
 * The stage worker: one long-running piscina task per stage. It builds the stage, then serves
 * messages until told to stop: forward batches (DNI steps 1-4) and targets (step 5), in the order
 * the schedule picks.
 */
import type { MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { selectBackend } from '../src/runtime/backend.js';
import { Stage } from '../src/pipeline/stage.js';
import { Inbox } from '../src/pipeline/inbox.js';
import { nextAction } from '../src/pipeline/schedule.js';
import type { StageSpec } from '../src/pipeline/stage-spec.js';
import type { BackwardMessage, ControlMessage, ForwardMessage, ReportMessage, StageStats } from '../src/pipeline/protocol.js';
import { PortChannel } from '../src/transport/port-channel.js';

export interface StagePorts {
  forwardIn: MessagePort;
  forwardOut?: MessagePort;
  backwardIn?: MessagePort;
  backwardOut?: MessagePort;
  control: MessagePort;
}

export interface StageTask {
  spec: StageSpec;
  ports: StagePorts;
}

export default async function runStage({ spec, ports }: StageTask): Promise<StageStats> {
  const control = new PortChannel<ReportMessage | ControlMessage>(ports.control);
  const report = (message: ReportMessage) => control.send(message);
  try {
    return await serve(spec, ports, report, control);
  } catch (error) {
    const err = error as Error;
    const wrapped = new Error(`stage ${spec.index}: ${err.message}`);
    wrapped.stack = `stage ${spec.index}: ${err.stack ?? err.message}`;
    throw wrapped;
  } finally {
    for (const port of Object.values(ports)) port?.close();
  }
}

async function serve(
  spec: StageSpec,
  ports: StagePorts,
  report: (message: ReportMessage) => void,
  control: PortChannel<ReportMessage | ControlMessage>,
): Promise<StageStats> {
  const backend = await selectBackend(spec.backend);

  const forwardOut = ports.forwardOut && new PortChannel<ForwardMessage>(ports.forwardOut);
  const backwardOut = ports.backwardOut && new PortChannel<BackwardMessage>(ports.backwardOut);
  const timing = { busy: 0, wait: 0, send: 0 };
  const timed = <T>(send: (m: T) => void) => (message: T) => {
    const t0 = performance.now();
    send(message);
    timing.send += performance.now() - t0;
  };
  const stage = new Stage(spec, {
    forward: timed((m) => forwardOut!.send(m, [m.activations.buffer as ArrayBuffer])),
    backward: timed((m) => backwardOut!.send(m, m.gradient ? [m.gradient.buffer as ArrayBuffer] : [])),
    report,
  });

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
  new PortChannel<ForwardMessage>(ports.forwardIn).onMessage((m) => inbox.pushForward(m));
  if (ports.backwardIn) new PortChannel<BackwardMessage>(ports.backwardIn).onMessage((m) => inbox.pushBackward(m));
  control.onMessage((m) => {
    if (m.kind === 'stats') report({ kind: 'stats', stats: stats() });
    else if (m.kind === 'weights') report({ kind: 'weights', stage: spec.index, values: stage.net.getWeights() });
    else if (m.kind === 'stop') inbox.requestStop();
  });
  report({ kind: 'ready', stage: spec.index, backend: backend.name, skipped: backend.skipped });

  // The loop: take what the schedule says, do it, measure it.
  for (;;) {
    const action = nextAction({
      mode: spec.mode,
      awaitingGradient: stage.awaitingGradient,
      forwardQueued: inbox.forward.length,
      backwardQueued: inbox.backward.length,
      stopRequested: inbox.stopRequested,
    });
    if (action === 'stop') break;
    const t0 = performance.now();
    if (action === 'wait') {
      await inbox.next();
      timing.wait += performance.now() - t0;
      continue;
    }
    if (action === 'forward') stage.forward(inbox.forward.shift()!);
    else stage.backward(inbox.backward.shift()!);
    timing.busy += performance.now() - t0;
    await yieldToEvents(); // let messages that arrived meanwhile be queued before choosing again
  }
  const final = stats();
  stage.dispose();
  return final;
}
