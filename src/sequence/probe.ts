import * as tf from '@tensorflow/tfjs-core';
import { buildSequenceRun } from './build.js';
import type { SequenceConfig } from './config.js';
import { CopyTask } from './copy.js';
import { addWindow, emptySums } from './log-sums.js';
import type { SavedTrainer } from './trainer.js';

export interface ProbeOptions {
  /** Windows to train M on, and how many go into each row. */
  windows: number;
  every: number;
  /** The LSTM's and the readout's Adam learning rate meanwhile; 0 keeps them as they are, bit for bit. */
  lstmLearningRate: number;
  /** The time synthesizer M trained from scratch (zero output layer, as in a run). */
  synthesizer: SequenceConfig['synthesizer'];
  /** Copy tasks: the curriculum length of the probe's new episodes (null: the checkpoint's). */
  length: number | null;
}

export interface ProbeRow {
  /** Windows trained when the row ends. */
  windows: number;
  /** Means over the row's windows: M's cosine with its bootstrapped target, and its loss. */
  cosine: number;
  synthesizerLoss: number;
  /** Mean window loss over the row (nats summed over the scored steps, mean over the streams). */
  loss: number;
  /** Copy tasks: the curriculum's length and mean error (bits per sequence) at the row's end; null for char-lm. */
  length: number | null;
  error: number | null;
}

export interface ProbeResult {
  rows: ProbeRow[];
  /** The largest change of an LSTM weight over the probe (0 with lstmLearningRate 0). */
  lstmDrift: number;
}

/**
 * How well a time synthesizer can learn the future gradient of a given network: a fresh M trained
 * by DNI toward its bootstrapped target on the network of a one-layer run's checkpoint, its LSTM
 * frozen (lstmLearningRate 0) or learning at the rate given, on the run's task and streams from
 * where the checkpoint left them. See docs/recurrent.md.
 */
export function probeTimeSynthesizer(config: SequenceConfig, saved: SavedTrainer, options: ProbeOptions): ProbeResult {
  if (config.layers !== 1) throw new Error(`the probe takes one-layer runs; this run has ${config.layers} layers`);
  for (const [name, value] of [['windows', options.windows], ['every', options.every]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  }
  if (!(options.lstmLearningRate >= 0)) throw new Error(`the LSTM's learning rate must be 0 or more, got ${options.lstmLearningRate}`);
  const probeConfig: SequenceConfig = { ...config, mode: 'dni', learningRate: options.lstmLearningRate, synthesizer: options.synthesizer };
  const { task, trainer } = buildSequenceRun(probeConfig);
  try {
    trainer.importNetwork(saved);
    task.setState(saved.task);
    if (options.length !== null) {
      if (!(task instanceof CopyTask)) throw new Error('length is for the copy tasks');
      if (!Number.isInteger(options.length) || options.length < 1) throw new Error(`length must be a positive integer, got ${options.length}`);
      task.curriculum.setState({ length: options.length, solved: task.curriculum.solved, recent: [] });
    }
    const before = trainer.lstm.params.map((p) => p.dataSync().slice());
    const rows: ProbeRow[] = [];
    let sums = emptySums();
    for (let w = 1; w <= options.windows; w++) {
      addWindow(sums, trainer.trainWindow());
      if (w % options.every === 0 || w === options.windows) {
        const figures = task instanceof CopyTask ? task.figures() : null;
        const trained = Math.max(sums.synth, 1);
        rows.push({
          windows: w,
          cosine: sums.synthCosine / trained,
          synthesizerLoss: sums.synthLoss / trained,
          loss: sums.loss / sums.windows,
          length: figures?.length ?? null,
          error: figures?.error ?? null,
        });
        sums = emptySums();
      }
    }
    const lstmDrift = tf.tidy(() =>
      Math.max(...trainer.lstm.params.map((p, i) => tf.max(tf.abs(tf.sub(p, tf.tensor(before[i], p.shape)))).dataSync()[0])),
    );
    return { rows, lstmDrift };
  } finally {
    trainer.dispose();
  }
}
