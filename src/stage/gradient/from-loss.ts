import * as tf from '@tensorflow/tfjs-core';
import { softmaxCrossEntropy, oneHot } from '../loss.js';
import { StatelessSource } from './stateless.js';
import type { GradientSource, SourceGradient, StageOutput } from './source.js';

/** The last stage: h[S] are the logits, and the gradient is the true one of the loss against the labels. */
export class FromLoss extends StatelessSource implements GradientSource {
  readonly awaited = false;
  readonly expectsMessage = false;
  readonly synthetic = false;

  constructor(private readonly classes: number) {
    super();
  }

  gradient(output: StageOutput): SourceGradient {
    const labels = oneHot(output.labels, this.classes);
    const { loss, gradient, correct } = softmaxCrossEntropy(output.h as tf.Tensor2D, labels);
    const done = { loss: loss.dataSync()[0], correct: correct.dataSync()[0], rows: output.rows };
    tf.dispose([labels, loss, correct]);
    return { dy: gradient, done };
  }

  keep(): void {
    throw new Error('the last stage keeps nothing for a target: none comes');
  }

  receive(): null {
    throw new Error('the last stage gets no message from above');
  }
}
