import type { StageState } from '../stage-state.js';
import type * as tf from '@tensorflow/tfjs-core';
import type { ProbeInput, SourceState, SourceStats, StageOutput } from './source.js';

/** What a source with no model of its own leaves out: no state to keep, learn, save or free. */
export abstract class StatelessSource {
  readonly holding = 0;
  readonly counters = {};
  readonly targetBelow: boolean = true;
  readonly broadcastsError: boolean = false;

  /** The gradient from above, as it comes (backprop; feedback alignment, where it was carried with B). */
  probe(input: ProbeInput): tf.Tensor {
    return input.fromAbove.clone();
  }

  wait(output: StageOutput): void {
    output.h.dispose();
  }

  forget(): void {}

  setLearningRate(): void {}

  async takeStats(): Promise<SourceStats> {
    return {};
  }

  async exportState(): Promise<SourceState> {
    return { synthesizer: null };
  }

  importState(state: StageState): void {
    if (state.synthesizer) throw new Error('it was written for another mode (synthesizer present/absent)');
    if (state.feedback?.length) throw new Error('it was written for another mode (feedback matrices present/absent)');
  }

  dispose(): void {}
}
