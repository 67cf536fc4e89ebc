import * as tf from '@tensorflow/tfjs-core';
import { Dense } from '../model/index.js';
import { buildSequenceRun } from './build.js';
import { decodeFloats } from './codec.js';
import type { SequenceConfig } from './config.js';
import type { SavedTrainer } from './trainer.js';

/** |z| beyond which tanh(z) is within 0.01 of ±1: atanh(0.99). */
export const SATURATION = Math.atanh(0.99);

export interface HiddenLayerHealth {
  units: number;
  /** Units whose pre-activation is at most 0 for every stream (with ReLU: dead on this batch, output 0). */
  inactive: number;
  /** The share of pre-activations beyond ±SATURATION (with tanh: gradient below 2% of its peak). */
  saturated: number;
}

export interface SynthesizerHealth {
  step: number;
  activation: string;
  hidden: HiddenLayerHealth[];
  /** |c| of the cell state carried into the next window: mean and largest. */
  cell: { mean: number; max: number };
}

/**
 * The state of a one-layer run's time synthesizer M at its checkpoint, on the boundary input M last
 * saw (B streams): per hidden layer, the units inactive for every stream and the share of saturated
 * pre-activations; and the size of the LSTM's cell state (docs/recurrent.md, M's hidden units die).
 */
export function synthesizerHealth(config: SequenceConfig, saved: SavedTrainer): SynthesizerHealth {
  if (config.layers !== 1) throw new Error(`synthesizer health takes one-layer runs; this run has ${config.layers} layers`);
  if (config.mode === 'bptt') throw new Error('this is a bptt run: it has no time synthesizer');
  const boundary = saved.tensors.boundary ?? [];
  if (boundary.length !== 2) throw new Error('the checkpoint holds no boundary state (it was written before the second window)');
  const { trainer } = buildSequenceRun(config);
  try {
    trainer.importState(saved);
    const c = decodeFloats(saved.tensors.state[1], 'state c');
    const s = decodeFloats(boundary[0], 'boundary state');
    const layers = trainer.synthesizer!.net.layers.filter((l): l is Dense => l instanceof Dense).slice(0, -1);
    const hidden = tf.tidy(() => {
      let x: tf.Tensor2D = tf.tensor2d(s, [config.batch, s.length / config.batch]);
      return layers.map((layer) => {
        const z = tf.add(tf.matMul(x, layer.kernel), layer.bias ?? 0) as tf.Tensor2D;
        const inactive = tf.sum(tf.cast(tf.lessEqual(tf.max(z, 0), 0), 'int32')).dataSync()[0];
        const saturated = tf.mean(tf.cast(tf.greater(tf.abs(z), SATURATION), 'float32')).dataSync()[0];
        x = layer.forward(x, false).y as tf.Tensor2D;
        return { units: layer.outputUnits, inactive, saturated };
      });
    });
    let sum = 0;
    let max = 0;
    for (const v of c) {
      sum += Math.abs(v);
      max = Math.max(max, Math.abs(v));
    }
    return { step: saved.step, activation: config.synthesizer.activation, hidden, cell: { mean: sum / c.length, max } };
  } finally {
    trainer.dispose();
  }
}
