import type { StageSpec } from '../stage-spec.js';
import { isLast } from '../stage-spec.js';
import type { Sequential } from '../../model/index.js';
import type { GradientSource } from './source.js';
import { FromAbove } from './from-above.js';
import { FromLoss } from './from-loss.js';
import { Synthesized } from './synthesized.js';
import { FeedbackAlignment } from './feedback-alignment.js';
import { DirectFeedback, ErrorToAll } from './direct-feedback.js';
import { BpLambda } from './bp-lambda.js';
import { Kickback, KickbackTop } from './kickback.js';
import type { Synthesizer } from '../synthesizer.js';

export type { GradientSource, KickbackLink, SourceGradient, StageOutput, SourceStats, SourceCounters, SourceState } from './source.js';
export { FromAbove, FromLoss, Synthesized, FeedbackAlignment, DirectFeedback, ErrorToAll, BpLambda, Kickback, KickbackTop };

/** The source of a stage's output gradient (its stage's layers `net`): the only place the training mode picks one. */
export function gradientSource(spec: StageSpec, net: Sequential): GradientSource {
  const last = isLast(spec);
  switch (spec.mode) {
    case 'fa':
      return new FeedbackAlignment(spec, net, last ? new FromLoss(spec.classes) : new FromAbove());
    case 'dfa':
      return last ? new ErrorToAll(spec.classes) : new DirectFeedback(spec);
    case 'bp-lambda':
      return last ? new FromLoss(spec.classes) : new BpLambda(spec, spec.lambda ?? { start: 1, end: 1, steps: 0 });
    case 'kickback':
      return last ? new KickbackTop(spec.classes) : new Kickback();
    case 'backprop':
      return last ? new FromLoss(spec.classes) : new FromAbove();
    default:
      return last ? new FromLoss(spec.classes) : new Synthesized(spec);
  }
}

/** The synthesizer M[s] behind a source, if it has one (for tools that measure it). */
export function synthesizerOf(source: GradientSource): Synthesizer | null {
  return source instanceof Synthesized || source instanceof BpLambda ? source.synthesizer : null;
}
