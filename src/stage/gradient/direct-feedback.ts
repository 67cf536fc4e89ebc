import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../../runtime/mat-mul.js';
import { shapeSize } from '../../model/index.js';
import type { BackwardMessage } from '../protocol.js';
import type { StageSpec } from '../stage-spec.js';
import { FeedbackMatrices, FixedFeedbackSource, randomMatrix } from './feedback-matrices.js';
import { FromLoss } from './from-loss.js';
import type { GradientSource, ProbeInput, StageOutput } from './source.js';

/**
 * Direct feedback alignment (Nøkland 2016, "Direct Feedback Alignment Provides Learning in Deep
 * Neural Networks"), a stage below the last: the last stage's output error e = dL/dh[S] (the
 * gradient of the loss at the logits, [rows, classes]) comes straight from the last stage (a link
 * of its own, StageLinks.error), and the stage's output gradient is its projection by a fixed
 * random matrix B[s] of [classes, |h[s]|]: dL/dh[s] ≈ e B[s]. The stage waits for e of the batch it
 * sent up and updates as soon as it arrives; it sends nothing down (the stage below gets e itself).
 * B[s] is drawn from the seed (uniform in Glorot's range), never trained, and kept in the stage's
 * checkpoint (docs/gradient-sources.md).
 */
export class DirectFeedback extends FixedFeedbackSource implements GradientSource {
  readonly awaited = true;
  readonly expectsMessage = true;
  readonly synthetic = false;
  readonly targetBelow = false;
  readonly broadcastsError = false;
  protected readonly matrices: FeedbackMatrices;

  constructor(private readonly spec: StageSpec) {
    super();
    this.matrices = new FeedbackMatrices([randomMatrix([spec.classes, shapeSize(spec.outputShape)], spec.seed, 'direct', spec.index)]);
  }

  /** B[s], [classes, |h[s]|]. */
  get projection(): tf.Tensor2D {
    return this.matrices.matrices[0];
  }

  async gradient(): Promise<null> {
    return null;
  }

  keep(): void {
    throw new Error('a DFA stage waits for the error; it keeps no prediction');
  }

  wait(output: StageOutput): void {
    output.h.dispose();
  }

  probe(input: ProbeInput): tf.Tensor {
    return tf.tidy(() => tf.reshape(matMul(input.error, this.projection), input.h.shape));
  }

  /** e B[s] for the error e of the batch, in h[s]'s shape. */
  receive(message: BackwardMessage, shape: number[]): tf.Tensor {
    const classes = this.spec.classes;
    const rows = message.gradient!.length / classes;
    return tf.tidy(() => tf.reshape(matMul(tf.tensor2d(message.gradient!, [rows, classes]), this.projection), [rows, ...shape]));
  }
}

/** DFA's last stage: the true gradient of the loss, which it also sends to every stage below as their error e; no δ goes down. */
export class ErrorToAll extends FromLoss {
  override readonly targetBelow = false;
  override readonly broadcastsError = true;
}
