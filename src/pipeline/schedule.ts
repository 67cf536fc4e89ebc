import type { Mode, Schedule } from '../config/schema.js';

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
 * - backprop (update-locked): after a forward pass, only the gradient for that batch may come next.
 * - dni / cdni (update-unlocked): targets first (they free the cache and improve the synthesizer),
 *   then the next batch; never waits on the stage above.
 * - complete unlock: as dni / cdni, the real inputs from below next (they finish steps the stages
 *   above wait for), then the next data batch x_t; never waits on the stages below.
 * - pipelined: see above.
 * Determinism of `lockstep` comes from the orchestrator keeping one batch in flight, so each stage
 * sees its messages in one fixed order.
 */
export function nextAction(view: StageView): Action {
  if (view.schedule === 'pipelined' && view.mode !== 'backprop') return pipelined(view);
  if (view.backwardQueued > 0) return 'backward';
  if (view.mode === 'backprop' && view.awaitingGradient) return 'wait';
  if (view.forwardQueued > 0) return 'forward';
  if (view.inputQueued > 0) return 'input';
  return view.stopRequested ? 'stop' : 'wait';
}
