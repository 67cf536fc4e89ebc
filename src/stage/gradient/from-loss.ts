import * as tf from '@tensorflow/tfjs-core';
import { softmaxCrossEntropy, oneHot } from '../loss.js';
import { StatelessSource } from './stateless.js';
import { readScalars } from '../../runtime/read.js';
import type { GradientSource, SourceGradient, StageOutput } from './source.js';

/** The last stage: h[S] are the logits, and the gradient is the true one of the loss against the labels. */
export class FromLoss extends StatelessSource implements GradientSource {
  readonly awaited = false;
  readonly expectsMessage = false;
  readonly synthetic = false;

  constructor(private readonly classes: number) {
    super();
  }

  async gradient(output: StageOutput): Promise<SourceGradient> {
    const labels = oneHot(output.labels, this.classes);
    const { loss, gradient, correct } = softmaxCrossEntropy(output.h as tf.Tensor2D, labels);
    labels.dispose();
    const [lossValue, correctValue] = await readScalars([loss, correct]);
    tf.dispose([loss, correct]);
    return { dy: gradient, done: { loss: lossValue, correct: correctValue, rows: output.rows } };
  }

  keep(): void {
    throw new Error('the last stage keeps nothing for a target: none comes');
  }

  receive(): null {
    throw new Error('the last stage gets no message from above');
  }
}
