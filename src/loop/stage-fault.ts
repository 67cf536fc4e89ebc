import type { StageSpec } from '../stage/stage-spec.js';
import type { Stage } from '../stage/stage.js';
import type { ForwardMessage } from '../stage/protocol.js';

/** SYNTHGRAD_FAULT, a testing aid: a NaN fault is armed in the stage itself. */
export function armFault(spec: StageSpec, stage: Stage): void {
  if (spec.fault?.kind === 'nan') stage.injectNaNAt = spec.fault.step;
}

/** SYNTHGRAD_FAULT, a testing aid: fail on purpose at one training step. */
export function injectFault(spec: StageSpec, message: ForwardMessage): void {
  const fault = spec.fault;
  if (!fault || message.eval || message.step !== fault.step) return;
  if (fault.kind === 'throw') throw new Error(`injected fault (SYNTHGRAD_FAULT) at step ${fault.step}`);
  if (fault.kind === 'exit') process.exit(70);
}
