import type { Mode } from '../config/schema.js';

/** What a stage sees when it chooses its next piece of work. */
export interface StageView {
  mode: Mode;
  /** Locked (backprop) stage that sent a batch forward and waits for its true gradient. */
  awaitingGradient: boolean;
  forwardQueued: number;
  backwardQueued: number;
  stopRequested: boolean;
}

export type Action = 'forward' | 'backward' | 'wait' | 'stop';

/**
 * The schedule of one stage, as a pure function.
 * - backprop (update-locked): after a forward pass, only the gradient for that batch may come next.
 * - dni / cdni (update-unlocked): targets first (they free the cache and improve the synthesizer),
 *   then the next batch; never waits on the stage above.
 * Determinism of `lockstep` comes from the orchestrator keeping one batch in flight, so each stage
 * sees its messages in one fixed order.
 */
export function nextAction(view: StageView): Action {
  if (view.backwardQueued > 0) return 'backward';
  if (view.mode === 'backprop' && view.awaitingGradient) return 'wait';
  if (view.forwardQueued > 0) return 'forward';
  return view.stopRequested ? 'stop' : 'wait';
}
