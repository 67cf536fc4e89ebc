import * as tf from '@tensorflow/tfjs-core';
import type { StageState } from '../stage-state.js';
import { stream } from '../rng.js';
import type { SourceState, SourceStats } from './source.js';

/** A fixed random matrix of `shape` ([rows, cols]), uniform in ±sqrt(6 / (rows + cols)) (Glorot's range), from its own named stream. */
export function randomMatrix(shape: [number, number], seed: string, ...name: (string | number)[]): tf.Tensor2D {
  const rng = stream(seed, 'feedback', ...name);
  const limit = Math.sqrt(6 / (shape[0] + shape[1]));
  const values = new Float32Array(shape[0] * shape[1]);
  for (let i = 0; i < values.length; i++) values[i] = (2 * rng() - 1) * limit;
  return tf.tensor2d(values, shape);
}

/**
 * The fixed feedback matrices of a stage (feedback alignment, DFA): drawn once from the seed, never
 * trained, written to the stage's checkpoint and read back from it, so a resumed run keeps them.
 */
export class FeedbackMatrices {
  constructor(readonly matrices: tf.Tensor2D[]) {}

  async exportState(): Promise<Float32Array[]> {
    return Promise.all(this.matrices.map(async (m) => new Float32Array(await m.data())));
  }

  /** Replaces the matrices with a checkpoint's; throws with a reason when they do not fit. */
  importState(state: StageState): void {
    const saved = state.feedback;
    if (state.synthesizer) throw new Error('it was written for another mode (synthesizer present/absent)');
    if (!saved || saved.length !== this.matrices.length) {
      throw new Error(`it holds ${saved?.length ?? 0} feedback matrices, expected ${this.matrices.length} (written for another mode or model)`);
    }
    saved.forEach((values, i) => {
      if (!(values instanceof Float32Array) || values.length !== this.matrices[i].size) {
        throw new Error(`feedback matrix ${i} has ${values?.length ?? 0} values, expected ${this.matrices[i].size}`);
      }
    });
    const restored = saved.map((values, i) => tf.tensor2d(values.slice(), this.matrices[i].shape));
    tf.dispose(this.matrices);
    this.matrices.splice(0, this.matrices.length, ...restored);
  }

  dispose(): void {
    tf.dispose(this.matrices);
  }
}

/** What a source whose only state is fixed feedback matrices leaves out: nothing learns, nothing is held; the matrices are checkpointed. */
export abstract class FixedFeedbackSource {
  readonly holding = 0;
  readonly counters = {};
  protected abstract readonly matrices: FeedbackMatrices;

  forget(): void {}

  setLearningRate(): void {}

  async takeStats(): Promise<SourceStats> {
    return {};
  }

  async exportState(): Promise<SourceState> {
    return { synthesizer: null, feedback: await this.matrices.exportState() };
  }

  importState(state: StageState): void {
    this.matrices.importState(state);
  }

  dispose(): void {
    this.matrices.dispose();
  }
}
