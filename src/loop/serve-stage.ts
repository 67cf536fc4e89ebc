/**
 * A stage's whole life: it builds the stage (or restores it from a checkpoint), then serves
 * messages until told to stop: forward batches (DNI steps 1-4) and targets (step 5), in the
 * order the schedule picks. Control messages (statistics, checkpoints, re-wiring after a
 * neighbour restarted) are answered between two steps (stage-control.ts). The transport is behind
 * DataLinks.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { selectBackend } from '../runtime/backend.js';
import { stageMemory } from '../runtime/memory.js';
import { readClock } from '../runtime/read.js';
import { Stage } from '../stage/stage.js';
import { Inbox } from './inbox.js';
import { ScheduleState, type Action } from './schedule.js';
import { StageMeters } from './stage-meters.js';
import { controlHandler } from './stage-control.js';
import { OneAtATime } from './one-at-a-time.js';
import { armFault, injectFault } from './stage-fault.js';
import type { StageSpec } from '../stage/stage-spec.js';
import type { ControlMessage, ReportMessage, StageStats } from '../stage/protocol.js';
import type { Channel } from './channel.js';
import type { DataLinks } from './data-links.js';
import { decodeStageState } from '../stage/stage-state.js';

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
  const meters = new StageMeters(spec.index);
  const stage = new Stage(spec, {
    forward: meters.timed((m) => links.forwardOut!.send(m, [m.activations.buffer as ArrayBuffer])),
    backward: meters.timed((m) => links.backwardOut!.send(m, m.gradient ? [m.gradient.buffer as ArrayBuffer] : [])),
    report: meters.timed(report),
    error: meters.timed((m) => links.errorOut!.send(m)),
  });
  const restoredStep = restore(spec, stage, meters);
  armFault(spec, stage);
  const stats = () => stageStats(stage, meters);
  const inbox = new Inbox();
  links.listen(inbox);
  const keepsBatches = stage.source.expectsMessage && !stage.source.awaited;
  const schedule = new ScheduleState(stage, keepsBatches, stage.syntheticInput !== null);
  // the channel carries both directions' messages: what comes in is control, answered between two
  // actions (a failure is an unhandled rejection: the stage fails, as a throw in the handler did)
  const turns = new OneAtATime();
  const answer = controlHandler({ stage, inbox, schedule, meters, links, report, stats });
  control.onMessage((m) => void turns.run(() => answer(m as ControlMessage)));
  readClock.observer = (t0, t1) => meters.read(t0, t1);
  meters.ready();
  report({ kind: 'ready', stage: spec.index, backend: backend.name, adapter: backend.adapter, skipped: backend.skipped, restoredStep });
  try {
    await serve(stage, inbox, schedule, meters, new Receiver(links, inbox), turns);
    return await stats();
  } finally {
    stage.dispose();
  }
}

/** The loop: take what the schedule says, do it, measure it, receive what came meanwhile. */
async function serve(stage: Stage, inbox: Inbox, schedule: ScheduleState, meters: StageMeters, receiver: Receiver, turns: OneAtATime): Promise<void> {
  for (;;) {
    const action = schedule.next(inbox);
    if (action === 'stop') return;
    const t0 = performance.now();
    if (action === 'wait') {
      await inbox.next();
      receiver.turned();
      meters.span('wait', 'wait', t0, performance.now());
      continue;
    }
    const [name, step] = await turns.run(() => take(action, stage, inbox, schedule));
    const t1 = performance.now();
    meters.span('busy', name, t0, t1, step);
    if (!receiver.drain()) await receiver.turn();
    meters.received(t1, performance.now());
  }
}

/**
 * Gives the stage the message the schedule picked: a batch (DNI steps 1-4, or forward only for
 * evaluation), a data batch x_t (complete unlock), or the message from above (step 5, or a locked
 * stage's true gradient). Returns the trace span's name and step.
 */
async function take(action: Exclude<Action, 'wait' | 'stop'>, stage: Stage, inbox: Inbox, schedule: ScheduleState): Promise<[string, number]> {
  if (action === 'forward') {
    const message = inbox.forward.shift()!;
    injectFault(stage.spec, message);
    await stage.forward(message);
    schedule.forwarded(message);
    return [message.eval ? 'evaluate' : message.marker ? 'flush' : message.probe ? 'probe' : 'forward', message.step];
  }
  if (action === 'input') {
    const message = inbox.input.shift()!;
    await stage.input(message);
    schedule.input(message.step);
    return ['input', message.step];
  }
  const message = inbox.backward.shift()!;
  if (!message.probe) schedule.backward(message.step);
  await stage.backward(message);
  return [message.probe ? 'probe' : stage.source.awaited ? 'backward' : 'target', message.step];
}

/**
 * Receives the messages that arrived during an action before the schedule chooses again: taken
 * straight from the links where they can, with an event-loop turn (control messages, other
 * transports) every so often.
 */
class Receiver {
  private actionsSinceTurn = 0;

  constructor(
    private readonly links: DataLinks,
    private readonly inbox: Inbox,
  ) {}

  /** False when an event-loop turn is due instead. */
  drain(): boolean {
    if (!this.links.drain || this.actionsSinceTurn >= ACTIONS_PER_EVENT_TURN) return false;
    this.links.drain(this.inbox);
    this.actionsSinceTurn += 1;
    return true;
  }

  async turn(): Promise<void> {
    await yieldToEvents();
    this.turned();
  }

  /** Waiting turned the event loop. */
  turned(): void {
    this.actionsSinceTurn = 0;
  }
}

/** Restores the stage from its checkpoint, if the spec names one; returns the step it continues at. */
function restore(spec: StageSpec, stage: Stage, meters: StageMeters): number | null {
  if (!spec.restore && !spec.restoreState) return null;
  const source = spec.restore ?? 'the checkpoint sent by the orchestrator';
  try {
    const state = decodeStageState(spec.restoreState ?? readFileSync(spec.restore!), source);
    stage.importState(state);
    meters.restore(state.counters);
    return state.step;
  } catch (error) {
    stage.dispose();
    throw new Error(`cannot restore from ${source}: ${(error as Error).message}`);
  }
}

async function stageStats(stage: Stage, meters: StageMeters): Promise<StageStats> {
  // the statistics' own reads first: the tensors they wait for are gone when memory is counted
  const sourceStats = await stage.takeSourceStats();
  const inputModelLoss = stage.syntheticInput ? await stage.syntheticInput.takeLossMean() : undefined;
  return {
    stage: stage.spec.index,
    ...meters.times(),
    memory: stageMemory(),
    ...stage.counters,
    ...sourceStats,
    ...(inputModelLoss !== undefined && { inputModelLoss }),
  };
}
