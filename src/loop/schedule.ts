import { isLockedMode, type Mode, type Schedule } from '../config/schema.js';
import type { StageSpec } from '../stage/stage-spec.js';
import type { ForwardMessage } from '../stage/protocol.js';
import type { Inbox } from './inbox.js';

/** In `pipelined`, a stage applies the target of batch t after it has sent batch t + PIPELINE_LAG on. */
export const PIPELINE_LAG = 2;

/** What a stage sees when it chooses its next piece of work. */
export interface StageView {
  mode: Mode;
  schedule: Schedule;
  /** Training batches this stage sent on whose target has not been applied yet, oldest first. */
  awaitingTargets: number;
  /** The oldest of those was sent before the last flush marker. */
  oldestFlushed: boolean;
  /** Locked (backprop) stage that sent a batch forward and waits for its true gradient. */
  awaitingGradient: boolean;
  /** Messages that may be taken now (complete unlock holds some back until the stage's own pass on x_t). */
  forwardQueued: number;
  backwardQueued: number;
  /** Complete unlock: data batches x_t queued. */
  inputQueued: number;
  stopRequested: boolean;
  /** The gradient probe's true gradient is first in the backward queue (taken before anything else). */
  probeDue?: boolean;
}

export type Action = 'forward' | 'backward' | 'input' | 'wait' | 'stop';

/**
 * `pipelined` (clocked, GPipe-like): every stage keeps a fixed order, batch t's target right after
 * batch t + PIPELINE_LAG went on, and waits for exactly that message when it is not there yet.
 * Stages still work at the same time (stage s on batch k - s), but what each one computes no
 * longer depends on thread timing: a run depends only on its seed.
 */
function pipelined(view: StageView): Action {
  const targetDue = view.awaitingTargets > PIPELINE_LAG || (view.awaitingTargets > 0 && view.oldestFlushed);
  if (targetDue) return view.backwardQueued > 0 ? 'backward' : 'wait';
  if (view.forwardQueued > 0) return 'forward';
  return view.stopRequested && view.awaitingTargets === 0 ? 'stop' : 'wait';
}

/**
 * The schedule of one stage, as a pure function.
 * - backprop, fa, dfa, bp-lambda (update-locked): after a forward pass, only the gradient for that batch may come next.
 * - dni / cdni (update-unlocked): targets first (they free the cache and improve the synthesizer),
 *   then the next batch; never waits on the stage above.
 * - complete unlock: as dni / cdni, the real inputs from below next (they finish steps the stages
 *   above wait for), then the next data batch x_t; never waits on the stages below.
 * - pipelined: see above.
 * Determinism of `lockstep` comes from the orchestrator keeping one batch in flight, so each stage
 * sees its messages in one fixed order.
 */
export function nextAction(view: StageView): Action {
  if (view.probeDue) return 'backward';
  if (view.schedule === 'pipelined' && !isLockedMode(view.mode)) return pipelined(view);
  if (view.backwardQueued > 0) return 'backward';
  if (isLockedMode(view.mode) && view.awaitingGradient) return 'wait';
  if (view.forwardQueued > 0) return 'forward';
  if (view.inputQueued > 0) return 'input';
  return view.stopRequested ? 'stop' : 'wait';
}

/** What the schedule's bookkeeping needs to know of the stage it serves. */
export interface ScheduledStage {
  spec: Pick<StageSpec, 'mode' | 'schedule' | 'unlocked'>;
  readonly awaitingGradient: boolean;
  readonly lastDroppedBeforeSending: number;
  ready(message: ForwardMessage): boolean;
}

/**
 * The state the schedule keeps beside the stage: the training batches whose target is still to
 * come (pipelined, complete unlock), and where the last flush marker went. `view` gives nextAction
 * what it reads; the stage loop tells it what was taken.
 */
export class ScheduleState {
  /** Training batches this stage sent on whose target is still to come, oldest first. */
  private readonly awaiting: number[] = [];
  /** Batches before this step were sent before the last flush marker. */
  private flushedBefore = -1;
  /**
   * Complete unlock: the stage above runs on x_t without waiting for this one, so its target for t
   * may come before this stage's own pass on t; it waits until then.
   */
  private readonly holdTargets: boolean;

  /** `hasTargets`: a target comes from above for each training batch the stage sends up. */
  constructor(
    private readonly stage: ScheduledStage,
    private readonly hasTargets: boolean,
    private readonly realInputs: boolean,
  ) {
    this.holdTargets = stage.spec.unlocked && hasTargets;
  }

  next(inbox: Inbox): Action {
    const { awaiting, stage } = this;
    return nextAction({
      mode: stage.spec.mode,
      schedule: stage.spec.schedule,
      awaitingTargets: awaiting.length,
      oldestFlushed: awaiting.length > 0 && awaiting[0] < this.flushedBefore,
      awaitingGradient: stage.awaitingGradient,
      forwardQueued: ready(inbox.forward, (m) => stage.ready(m)),
      backwardQueued: ready(inbox.backward, (m) => !this.holdTargets || awaiting.includes(m.step)),
      inputQueued: inbox.input.length,
      stopRequested: inbox.stopRequested,
      probeDue: inbox.backward[0]?.probe === true,
    });
  }

  /** The stage took a forward message (a batch, an evaluation batch or a flush marker). */
  forwarded(message: ForwardMessage): void {
    if (message.marker) this.flushedBefore = (this.awaiting[this.awaiting.length - 1] ?? -1) + 1;
    // a batch dropped here before going up gets no target; with synthetic inputs, the target is for the input pass
    else if (this.hasTargets && !message.eval && !message.probe && !this.realInputs && this.stage.lastDroppedBeforeSending !== message.step) this.awaiting.push(message.step);
  }

  /** Complete unlock: the stage took a data batch x_t. */
  input(step: number): void {
    if (this.hasTargets) this.awaiting.push(step);
  }

  /** The stage took the message from above for `step`. */
  backward(step: number): void {
    const i = this.awaiting.indexOf(step);
    if (i >= 0) this.awaiting.splice(i, 1);
  }

  /** These steps were lost with a failed stage. */
  abandon(steps: Set<number>): void {
    this.awaiting.splice(0, this.awaiting.length, ...this.awaiting.filter((s) => !steps.has(s)));
  }
}

/** How many of the queue may be taken now: all when its head may (messages are taken in order). */
function ready<T>(queue: T[], ok: (m: T) => boolean): number {
  return queue.length > 0 && ok(queue[0]) ? queue.length : 0;
}
