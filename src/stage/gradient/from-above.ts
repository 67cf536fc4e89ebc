import * as tf from '@tensorflow/tfjs-core';
import type { BackwardMessage } from '../protocol.js';
import { shapeSize } from '../../model/index.js';
import { StatelessSource } from './stateless.js';
import type { GradientSource } from './source.js';

/**
 * Backprop: the true gradient dL/dh[s] comes down from the stage above, and the stage waits for it
 * before its backward pass (update-locked).
 */
export class FromAbove extends StatelessSource implements GradientSource {
  readonly awaited = true;
  readonly expectsMessage = true;
  readonly synthetic = false;

  async gradient(): Promise<null> {
    return null;
  }

  keep(): void {
    throw new Error('a stage waiting for its true gradient keeps no prediction');
  }

  receive(message: BackwardMessage, shape: number[]): tf.Tensor {
    const width = shapeSize(shape);
    return tf.tensor2d(message.gradient!, [message.gradient!.length / width, width]);
  }
}
