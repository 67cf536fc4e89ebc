import type * as tf from '@tensorflow/tfjs-core';
import type { BackwardMessage, RelayedDone, StageStats } from '../protocol.js';
import type { StageState } from '../stage-state.js';

/** Batch t at the top of a stage, after step 2: its output h[s]_t and the labels c_t. */
export interface StageOutput {
  step: number;
  rows: number;
  labels: Uint8Array;
  h: tf.Tensor;
}

/** The gradient probe at a stage below the last: its output on the probe batch and what came from above. */
export interface ProbeInput {
  h: tf.Tensor;
  labels: Uint8Array;
  /** What the stage above sends down in training, for the probe batch (of h's shape). */
  fromAbove: tf.Tensor;
  /** The last stage's output error e, [rows, classes]. */
  error: tf.Tensor2D;
}

/** A gradient for h[s]_t that the stage can apply now (step 4). */
export interface SourceGradient {
  /** dL/dh[s]_t, or its estimate; the stage disposes it. */
  dy: tf.Tensor;
  /** The last stage's figures for the batch (its loss), checked for finiteness and reported with the step. */
  done?: Omit<RelayedDone, 'stage'> & { loss: number };
}

/** The counters a source keeps, beside the stage's own. */
export type SourceCounters = Partial<Pick<StageStats, 'synthesizerUpdates' | 'synthesizerRepredictions' | 'evicted'>>;

/** What a source adds to its stage's statistics (means since the last call). */
export type SourceStats = Partial<Pick<StageStats, 'synthesizerLoss' | 'synthesizerCosine'>>;

/** Kickback: what goes down from a stage besides δ, and the gradient δ is the backward pass of. */
export interface KickbackLink {
  /** The last stage's output error e for the batch whose gradient `dy` is applied (rows x classes values), sent down with δ. */
  error(dy: tf.Tensor): Promise<Float32Array>;
  /** The gradient at the stage's output whose backward pass is δ, from e ([rows, classes]); absent: the applied one. */
  down?(error: tf.Tensor2D, shape: number[]): tf.Tensor;
}

/** The part of a stage checkpoint a source writes and reads back. */
export type SourceState = Pick<StageState, 'synthesizer'> & Partial<Pick<StageState, 'feedback'>>;

/**
 * Where a stage's output gradient dL/dh[s] comes from: step 3 of docs/dni.md and what step 5 does with
 * the message from above. A new way of producing it (a time boundary, feedback alignment, ...) is
 * one class implementing this, picked in ./index.ts; its checkpoint and statistics fields come with it.
 */
export interface GradientSource {
  /** Update-locked: the gradient comes from above, and the stage waits for it (holding its backward trace). */
  readonly awaited: boolean;
  /** A message comes from above for each training batch the stage sends up: a target, or the awaited gradient. */
  readonly expectsMessage: boolean;
  /** The input gradient the stage sends down is built on a prediction (J^T ĝ), not on the true gradient. */
  readonly synthetic: boolean;
  /** The stage sends δ[s-1] down to the stage below, which waits for it (DFA: no, each stage gets the error itself). */
  readonly targetBelow: boolean;
  /** DFA's last stage: its output error e goes to every stage below (StageLinks.error). */
  readonly broadcastsError: boolean;
  /**
   * Feedback alignment: per layer of the stage's net, the fixed matrix that carries the input
   * gradient instead of the transposed kernel (null: the layer's own backward pass).
   */
  readonly feedback?: readonly (tf.Tensor | null)[];
  /** Kickback: δ is the backward pass of another gradient than the applied one, and e goes down with it. */
  readonly kickback?: KickbackLink;
  /** Batches the source keeps for a message still to come (a checkpoint is taken with none). */
  readonly holding: number;
  readonly counters: SourceCounters;
  /** Step 3: the gradient for batch t now (the last stage reads its loss); null when it is awaited from above. */
  gradient(output: StageOutput): Promise<SourceGradient | null>;
  /** After step 4 with an update: keep what step 5 needs for t (takes over `output.h` and `used`). */
  keep(output: StageOutput, used: tf.Tensor): void;
  /** An awaited source, after step 2: takes over `output.h` while the stage waits (BP(λ) predicts from it); others dispose it. */
  wait(output: StageOutput): void;
  /**
   * The message from above for step t: an awaited source returns the gradient to apply (of h's
   * `shape`); otherwise step 5: the target trains the source, and null is returned.
   */
  receive(message: BackwardMessage, shape: number[]): tf.Tensor | null;
  /**
   * The gradient probe: the dL/dh[s] this source would use for the probe batch now (a new tensor,
   * of h's shape), computed without training anything or moving BatchNorm's running statistics.
   */
  probe(input: ProbeInput): tf.Tensor;
  /** Forgets batches lost with a failed stage: their messages will never come. */
  forget(steps: Set<number>): void;
  /** Follows the stage's learning-rate schedule. */
  setLearningRate(step: number): void;
  /** Means since the last call, once the figures of the steps taken are read. */
  takeStats(): Promise<SourceStats>;
  exportState(): Promise<SourceState>;
  /** Reads back what exportState wrote; throws with a reason when the state is not for this source. */
  importState(state: StageState): void;
  dispose(): void;
}
