import * as tf from '@tensorflow/tfjs-core';
import { checkBatchOf, checkShape, formatShape, shapeSize, type Backward, type Forward, type Layer, type Trace } from './layer.js';

export interface ReshapeOptions {
  /** Per-example input shape, e.g. [7, 7, 32]. */
  inputShape: readonly number[];
  /** Per-example output shape with the same number of elements, e.g. [1568]. */
  targetShape: readonly number[];
  name?: string;
}

/**
 * Per-example reshape (zero-copy, no parameters, empty trace): [batch, ...inputShape] ->
 * [batch, ...targetShape]; backward reshapes dy back. Also accepts flat inputs and dy.
 * E.g. the inverse of Flatten where a stage receives flat activations of an image:
 * new Reshape({ inputShape: [784], targetShape: [28, 28, 1] }).
 */
export class Reshape implements Layer {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly inputUnits: number;
  readonly outputUnits: number;
  readonly params: tf.Variable[] = [];
  readonly state: tf.Variable[] = [];

  constructor(opts: ReshapeOptions, kind = 'reshape') {
    checkShape(opts.inputShape, `${kind} inputShape`);
    checkShape(opts.targetShape, `${kind} targetShape`);
    if (shapeSize(opts.inputShape) !== shapeSize(opts.targetShape)) {
      throw new Error(
        `${kind}: cannot reshape [${opts.inputShape.join(', ')}] (${shapeSize(opts.inputShape)} values) to [${opts.targetShape.join(', ')}] (${shapeSize(opts.targetShape)})`,
      );
    }
    this.inputShape = [...opts.inputShape];
    this.outputShape = [...opts.targetShape];
    this.inputUnits = shapeSize(this.inputShape);
    this.outputUnits = this.inputUnits;
    this.name = opts.name ?? `${kind}(${formatShape(this.inputShape)}->${formatShape(this.outputShape)})`;
  }

  forward(x: tf.Tensor, _training: boolean): Forward {
    const batch = checkBatchOf(x, this.inputShape, `${this.name} forward x`);
    return { y: tf.reshape(x, [batch, ...this.outputShape]), trace: [] };
  }

  backward(_trace: Trace, dy: tf.Tensor, needInputGrad: boolean): Backward {
    const batch = checkBatchOf(dy, this.outputShape, `${this.name} backward dy`);
    return { dx: needInputGrad ? tf.reshape(dy, [batch, ...this.inputShape]) : null, grads: [] };
  }
}

/** [batch, height, width, channels] -> [batch, height * width * channels] (row-major, as Keras's Flatten). */
export class Flatten extends Reshape {
  constructor(opts: { inputShape: readonly number[]; name?: string }) {
    super({ inputShape: opts.inputShape, targetShape: [shapeSize(opts.inputShape)], name: opts.name }, 'flatten');
  }
}
