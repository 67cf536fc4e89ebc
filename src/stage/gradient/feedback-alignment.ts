import type * as tf from '@tensorflow/tfjs-core';
import { Dense, type Sequential } from '../../model/index.js';
import type { BackwardMessage } from '../protocol.js';
import type { StageSpec } from '../stage-spec.js';
import { FeedbackMatrices, FixedFeedbackSource, randomMatrix } from './feedback-matrices.js';
import type { GradientSource, ProbeInput, SourceGradient, StageOutput } from './source.js';

/**
 * Feedback alignment (Lillicrap et al. 2016, "Random synaptic feedback weights support error
 * backpropagation for deep learning"): the backward pass through each dense layer of the stage
 * carries the gradient with a fixed random matrix B of the kernel's shape, dx = dz Bᵀ, instead of
 * dz Wᵀ; the parameter gradients are the usual ones for the dz that arrives. The stage is
 * update-locked as in backprop: its gradient comes from above (the last stage: the loss), only it
 * was carried down with B. Convolutions, pooling and BatchNorm keep their own backward pass.
 * B is drawn from the seed per layer (uniform in Glorot's range), never trained, and kept in the
 * stage's checkpoint (docs/gradient-sources.md).
 */
export class FeedbackAlignment extends FixedFeedbackSource implements GradientSource {
  readonly awaited: boolean;
  readonly expectsMessage: boolean;
  readonly synthetic = false;
  readonly targetBelow = true;
  readonly broadcastsError = false;
  protected readonly matrices: FeedbackMatrices;
  private readonly layers: readonly (Dense | null)[];
  /** Testing aid: the layers' current kernels carry the gradient (B = W: backprop). */
  private mirror = false;

  constructor(
    spec: StageSpec,
    net: Sequential,
    private readonly inner: GradientSource,
  ) {
    super();
    this.awaited = inner.awaited;
    this.expectsMessage = inner.expectsMessage;
    this.layers = net.layers.map((l) => (l instanceof Dense ? l : null));
    this.matrices = new FeedbackMatrices(
      this.layers.filter((l): l is Dense => l !== null).map((l) => randomMatrix([l.inputUnits, l.outputUnits], spec.seed, l.name)),
    );
  }

  /** Per layer: its B, or null for a layer without a dense kernel. */
  get feedback(): (tf.Tensor | null)[] {
    let k = 0;
    return this.layers.map((l) => (l === null ? null : this.mirror ? l.kernel : this.matrices.matrices[k++]));
  }

  /** Testing aid: use each dense layer's own current kernel as its B, which makes this stage backprop exactly. */
  mirrorKernels(): void {
    this.mirror = true;
  }

  gradient(output: StageOutput): Promise<SourceGradient | null> {
    return this.inner.gradient(output);
  }

  keep(output: StageOutput, used: tf.Tensor): void {
    this.inner.keep(output, used);
  }

  wait(output: StageOutput): void {
    this.inner.wait(output);
  }

  probe(input: ProbeInput): tf.Tensor {
    return this.inner.probe(input);
  }

  receive(message: BackwardMessage, shape: number[]): tf.Tensor | null {
    return this.inner.receive(message, shape);
  }
}
