import * as tf from '@tensorflow/tfjs-core';
import type { BackwardMessage } from '../protocol.js';
import type { StageState } from '../stage-state.js';
import type { StageSpec } from '../stage-spec.js';
import { SynthesizerSource } from './synthesized.js';
import type { GradientSource, ProbeInput, StageOutput } from './source.js';

/** bp-lambda's λ schedule: linear from `start` at step 0 to `end` at step `steps`, then `end`. */
export interface LambdaSchedule {
  start: number;
  end: number;
  steps: number;
}

/** λ at `step` of the schedule. */
export function lambdaAt(schedule: LambdaSchedule, step: number): number {
  if (schedule.steps <= 0 || step >= schedule.steps) return schedule.steps <= 0 ? schedule.start : schedule.end;
  return schedule.start + (schedule.end - schedule.start) * (step / schedule.steps);
}

/**
 * BP(λ): the stage waits for the gradient g from above (as backprop does) and applies
 * λ·g + (1-λ)·ĝ, with ĝ = M[s](h[s]) its synthesizer's prediction (DNI's, unconditioned); g also
 * trains M[s], as a DNI target does. λ follows a linear schedule from `start` to `end` (the DNI
 * paper's supplement suggests going from true to synthetic gradients); λ = 1 is backprop exactly
 * and λ = 0 is DNI exactly (in lockstep: the same synthesizer, the same targets). The synthesizer's
 * loss and the cosine of the applied gradient with g go to the statistics as DNI's do.
 */
export class BpLambda extends SynthesizerSource implements GradientSource {
  readonly awaited = true;
  readonly expectsMessage = true;
  readonly synthetic = true;
  readonly targetBelow = true;
  readonly broadcastsError = false;
  readonly counters = { synthesizerUpdates: 0, synthesizerRepredictions: 0 };
  /** The batch the stage waits for: its h[s]. */
  private waiting: StageOutput | null = null;
  /** The step last trained (λ of the gradient probe). */
  private step = 0;

  constructor(
    spec: StageSpec,
    private readonly schedule: LambdaSchedule,
  ) {
    super(spec, false);
  }

  get holding(): number {
    return this.waiting ? 1 : 0;
  }

  async gradient(): Promise<null> {
    return null;
  }

  keep(): void {
    throw new Error('a BP(λ) stage waits for its gradient; it keeps nothing for later');
  }

  wait(output: StageOutput): void {
    this.release();
    this.waiting = output;
  }

  /** λ·g + (1-λ)·ĝ for the probe batch, at λ of the step last trained. */
  probe(input: ProbeInput): tf.Tensor {
    const lambda = lambdaAt(this.schedule, this.step);
    const predicted = this.predictOnly(input.h, input.labels, false);
    const used = tf.tidy(() => tf.add(tf.mul(input.fromAbove, lambda), tf.mul(predicted, 1 - lambda)));
    predicted.dispose();
    return used;
  }

  override setLearningRate(step: number): void {
    super.setLearningRate(step);
    this.step = step;
  }

  /** λ·g + (1-λ)·ĝ for the batch waited for; g trains M[s]. */
  receive(message: BackwardMessage, shape: number[]): tf.Tensor {
    const output = this.waiting;
    if (!output || output.step !== message.step) throw new Error(`BP(λ): gradient for step ${message.step} while waiting for ${output?.step ?? 'none'}`);
    const lambda = lambdaAt(this.schedule, message.step);
    const g = tf.tensor(message.gradient!, [output.rows, ...shape]);
    const predicted = this.synthesizer.predict(output.h, null);
    const used = tf.tidy(() => tf.add(tf.mul(g, lambda), tf.mul(predicted, 1 - lambda)));
    this.trainSynthesizer(output.h, null, g, used, predicted);
    tf.dispose([g, predicted]);
    this.release();
    return used;
  }

  forget(steps: Set<number>): void {
    if (this.waiting && steps.has(this.waiting.step)) this.release();
  }

  importState(state: StageState): void {
    this.importSynthesizerState(state);
  }

  dispose(): void {
    this.release();
    this.synthesizer.dispose();
  }

  private release(): void {
    this.waiting?.h.dispose();
    this.waiting = null;
  }
}
