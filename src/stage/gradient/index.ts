import type { StageSpec } from '../stage-spec.js';
import { isLast } from '../stage-spec.js';
import type { GradientSource } from './source.js';
import { FromAbove } from './from-above.js';
import { FromLoss } from './from-loss.js';
import { Synthesized } from './synthesized.js';
import type { Synthesizer } from '../synthesizer.js';

export type { GradientSource, SourceGradient, StageOutput, SourceStats, SourceCounters, SourceState } from './source.js';
export { FromAbove, FromLoss, Synthesized };

/** The source of a stage's output gradient: the only place the training mode picks one. */
export function gradientSource(spec: StageSpec): GradientSource {
  if (isLast(spec)) return new FromLoss(spec.classes);
  if (spec.mode === 'backprop') return new FromAbove();
  return new Synthesized(spec);
}

/** The synthesizer M[s] behind a source, if it has one (for tools that measure it). */
export function synthesizerOf(source: GradientSource): Synthesizer | null {
  return source instanceof Synthesized ? source.synthesizer : null;
}
