import * as tf from '@tensorflow/tfjs-core';
import { Adam, Dense, Lstm, Sequential, disposeState, disposeWindowTrace, glorotUniform, type HiddenActivation, type LstmState } from '../model/index.js';
import { stream } from '../stage/rng.js';
import { decodeFloats, encodeFloats } from './codec.js';
import { windowLoss } from './loss.js';
import type { SequenceTask, Window } from './task.js';
import { TimeSynthesizer, type ReplayedRows } from './time-synthesizer.js';

/** What a one-layer time synthesizer reads of the cell state: c itself, or tanh c (bounded where c grows: text has no episode ends). */
export const SYNTHESIZER_CELLS = ['c', 'tanh'] as const;

export type SynthesizerCell = (typeof SYNTHESIZER_CELLS)[number];

/** 'bptt': the gradient is cut at each window's end; 'dni': a synthetic gradient enters there; 'dni+aux': and M also predicts the next boundary's. */
export const SEQUENCE_MODES = ['bptt', 'dni', 'dni+aux'] as const;
export type SequenceMode = (typeof SEQUENCE_MODES)[number];

export interface SequenceTrainerOptions {
  mode: SequenceMode;
  /** T: steps per window of truncated BPTT. */
  window: number;
  units: number;
  learningRate: number;
  /** The time synthesizer's hidden widths ([]: linear) and learning rate. */
  synthesizerLayers: number[];
  /** Their activation (default relu). */
  synthesizerActivation?: HiddenActivation;
  /** What M reads of the cell state (default c). */
  synthesizerCell?: SynthesizerCell;
  synthesizerLearningRate: number;
  /**
   * γ in (0, 1]: the synthetic gradient applied is γ·M(s)/B, so M's bootstrapped target is
   * true + γ·(ĝ pushed back), a discounted sum of the future's gradients. 1 is the undiscounted
   * target; a stream with no episode ends (text) needs γ < 1 (see docs/recurrent.md).
   */
  discount: number;
  /**
   * Where ĝ enters at the window's end: 'state', both h and c (M predicts dL/d[h, c]); 'h', h alone
   * (M predicts dL/dh, its target the gradient reaching h at the window's start). See
   * docs/recurrent.md: a gradient at c drove the cells of a deep stack to integrate without bound.
   */
  gradientAt: 'state' | 'h';
  /** M also sees the next window's targets and score mask (privileged, as cDNI's labels). */
  conditioned?: boolean;
  /**
   * Boundaries M trains on at each step: this one and the `replay - 1` before it, each with the
   * state and target it had then, in one Adam step on all their rows (1, the default: this one alone).
   */
  replay?: number;
  seed: number | string;
}

/** What one window of training reports. */
export interface WindowRecord {
  /** The window's loss: nats summed over its scored steps, mean over the streams. */
  loss: number;
  /** The time synthesizer's step (null: bptt, or the first window, which has no target yet). */
  synthesizer: { loss: number; cosine: number; auxLoss: number } | null;
}

/** A checkpoint of the trainer (exportState). */
export type SavedTrainer = { step: number; tensors: Record<string, string[]>; task: unknown };

/**
 * One LSTM layer and a linear readout trained by truncated BPTT over windows of T steps of a
 * sequence task's streams, the state carried from window to window; with DNI, the time synthesizer
 * M at each window's end. Window k: forward from s_{k-1}; ĝ_k = M(s_k)/B enters the backward pass at
 * s_k; the gradient that reaches s_{k-1} (the true one from this window plus ĝ_k pushed back
 * through it) is the bootstrapped target for M(s_{k-1}), the ĝ used a window earlier. A
 * conditioned M also sees the next window's targets and score mask beside s_k.
 */
export class SequenceTrainer {
  readonly lstm: Lstm;
  readonly readout: Sequential;
  readonly optimizer: Adam;
  readonly synthesizer: TimeSynthesizer | null;
  /** Windows trained. */
  step = 0;
  private state: LstmState;
  /** s_{k-1} = [h, c] at the last boundary, and the ĝ (per-example) used there. */
  private boundary: { s: tf.Tensor2D; used: tf.Tensor2D } | null = null;
  /** Conditioned M: the next window, read from the task before this one's backward pass. */
  private upcoming: Window | null = null;
  /** Replay: the last `replay - 1` boundaries M trained on (oldest first), their states and targets as they were. */
  private replayed: Remembered[] = [];

  constructor(
    readonly task: SequenceTask,
    readonly batch: number,
    readonly options: SequenceTrainerOptions,
  ) {
    if (!Number.isInteger(options.window) || options.window < 1) throw new Error(`window (T) must be a positive integer, got ${options.window}`);
    if (!(options.discount > 0 && options.discount <= 1)) throw new Error(`discount must be in (0, 1], got ${options.discount}`);
    if (!Number.isInteger(this.replay) || this.replay < 1) throw new Error(`replay must be a positive integer, got ${options.replay}`);
    const init = stream(options.seed, 'init', 'sequence');
    this.lstm = new Lstm({ inputUnits: task.inputUnits, units: options.units, rng: init, name: 'lstm' });
    this.readout = new Sequential([
      new Dense({ inputUnits: options.units, units: task.outputUnits, useBias: true, activation: 'linear', init: glorotUniform(options.units, task.outputUnits, init), name: 'readout' }),
    ]);
    this.optimizer = new Adam([...this.lstm.params, ...this.readout.params], { learningRate: options.learningRate });
    this.synthesizer =
      options.mode === 'bptt'
        ? null
        : new TimeSynthesizer({
            stateUnits: 2 * options.units + (options.conditioned ? options.window * (task.outputUnits + 1) : 0),
            gradientUnits: options.gradientAt === 'h' ? options.units : 2 * options.units,
            aux: options.mode === 'dni+aux',
            hiddenLayers: options.synthesizerLayers,
            activation: options.synthesizerActivation ?? 'relu',
            batchNorm: false,
            learningRate: options.synthesizerLearningRate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            rng: stream(options.seed, 'init', 'time-synthesizer'),
          });
    this.state = this.lstm.zeroState(batch);
  }

  /** Trains on the task's next window. */
  trainWindow(): WindowRecord {
    const T = this.options.window;
    const window = this.upcoming ?? this.task.next(T);
    this.upcoming = null;
    const { x, y, mask, carry } = this.tensors(window);
    const fwd = this.lstm.forward(x, this.state, T, true, carry);
    const out = this.readout.forward(fwd.hs, true);
    const [stepLoss, dLogits] = windowLoss(this.task.output, out.y as tf.Tensor2D, y, mask, this.batch);
    // M's input at the boundary: s_k = [h, c] (or [h, tanh c]), and for a conditioned M the next
    // window's targets, read now (the task sees this window's losses first, as without conditioning)
    let losses: Float32Array | null = null;
    let condition: tf.Tensor2D | null = null;
    if (this.synthesizer && this.options.conditioned) {
      losses = this.observe(window, stepLoss);
      this.upcoming = this.task.next(T);
      condition = conditionTensor(this.upcoming);
    }
    const cell = this.options.synthesizerCell === 'tanh' ? tf.tanh(fwd.state.c) : fwd.state.c;
    const sT = tf.concat(condition ? [fwd.state.h, cell, condition] : [fwd.state.h, cell], 1) as tf.Tensor2D;
    if (cell !== fwd.state.c) cell.dispose();
    condition?.dispose();
    const predicted = this.synthesizer?.predict(sT) ?? null;
    const scale = this.options.discount / this.batch;
    const dFinal = predicted ? this.atBoundary(tf.tidy(() => tf.mul(predicted.gradient, scale) as tf.Tensor2D)) : null;
    const readoutBack = this.readout.backward(out.trace, dLogits, true);
    const back = this.lstm.backward(fwd.trace!, readoutBack.dx as tf.Tensor2D, dFinal, false);
    let synthesizer: WindowRecord['synthesizer'] = null;
    if (this.synthesizer && predicted && this.boundary) {
      const reached = this.options.gradientAt === 'h' ? back.dState.h : tf.concat([back.dState.h, back.dState.c], 1);
      const target = tf.tidy(() => tf.mul(reached, this.batch) as tf.Tensor2D);
      if (reached !== back.dState.h) reached.dispose();
      const auxTarget = predicted.next ? predicted.gradient : null;
      const replayed = this.replayedRows();
      synthesizer = this.synthesizer.train(this.boundary.s, target, auxTarget, this.boundary.used, replayed);
      tf.dispose(replayed ? [replayed.state, replayed.target, replayed.auxTarget ?? []] : []);
      this.remember({ s: tf.clone(this.boundary.s), target, aux: auxTarget && tf.clone(auxTarget) });
    }
    this.optimizer.step([...back.grads, ...readoutBack.grads]);
    losses ??= this.observe(window, stepLoss);
    const loss = losses.reduce((a, b) => a + b, 0) / this.batch;
    // carry: the state for the next window, the boundary for M's next target
    disposeState(this.state);
    this.state = fwd.state;
    this.dropBoundary();
    if (predicted) {
      this.boundary = { s: sT, used: predicted.gradient };
      predicted.next?.dispose();
    } else {
      sT.dispose();
    }
    disposeState(dFinal);
    disposeState(back.dState);
    disposeWindowTrace(fwd.trace);
    tf.dispose([x, y, mask, ...(carry ? [carry] : []), fwd.hs, out.y, ...out.trace.flat(), stepLoss, dLogits, readoutBack.dx!, ...readoutBack.grads, ...back.grads]);
    this.step += 1;
    return { loss, synthesizer };
  }

  /** The window's losses per step and stream, read and given to the task (its curriculum, its error). */
  private observe(window: Window, stepLoss: tf.Tensor): Float32Array {
    const losses = stepLoss.dataSync() as Float32Array;
    this.task.observe(window, losses);
    return losses;
  }

  private tensors(window: Window): { x: tf.Tensor2D; y: tf.Tensor2D; mask: tf.Tensor1D; carry: tf.Tensor2D | null } {
    const rows = window.steps * window.batch;
    return {
      x: tf.tensor2d(window.x, [rows, this.task.inputUnits]),
      y: tf.tensor2d(window.y, [rows, this.task.outputUnits]),
      mask: tf.tensor1d(window.mask),
      carry: window.carry ? tf.tensor2d(window.carry, [rows, 1]) : null,
    };
  }

  /** ĝ as the gradient at the window's last state: [B, 2 units] -> {h, c}, or ([B, units], gradientAt h) -> {h, 0} (disposes the input). */
  private atBoundary(g: tf.Tensor2D): LstmState {
    if (this.options.gradientAt === 'h') return { h: g, c: tf.zerosLike(g) };
    const [h, c] = tf.split(g, 2, 1) as tf.Tensor2D[];
    g.dispose();
    return { h, c };
  }

  private get replay(): number {
    return this.options.replay ?? 1;
  }

  /** The remembered boundaries' rows, stacked (null when there are none). */
  private replayedRows(): ReplayedRows | null {
    if (this.replayed.length === 0) return null;
    const stack = (ts: tf.Tensor2D[]) => (ts.length === 1 ? tf.clone(ts[0]) : (tf.concat(ts, 0) as tf.Tensor2D));
    const aux = this.replayed.map((r) => r.aux).filter((a): a is tf.Tensor2D => a !== null);
    return {
      state: stack(this.replayed.map((r) => r.s)),
      target: stack(this.replayed.map((r) => r.target)),
      auxTarget: aux.length ? stack(aux) : null,
    };
  }

  /** Keeps a boundary M trained on (owning its tensors) for the next `replay - 1` steps; disposes it when there is no replay. */
  private remember(boundary: Remembered): void {
    this.replayed.push(boundary);
    while (this.replayed.length > this.replay - 1) disposeRemembered(this.replayed.shift()!);
  }

  private dropBoundary(): void {
    if (this.boundary) tf.dispose([this.boundary.s, this.boundary.used]);
    this.boundary = null;
  }

  /**
   * Mean nats per scored step of the model on `windows` windows of `next` from a zero state
   * (forward only: nothing trained, the training state untouched).
   */
  evaluate(next: (steps: number) => Window, windows: number, steps: number): { nats: number; scored: number } {
    let state = this.lstm.zeroState(this.batch);
    let nats = 0;
    let scored = 0;
    for (let w = 0; w < windows; w++) {
      const window = next(steps);
      const { x, y, mask, carry } = this.tensors(window);
      const fwd = this.lstm.forward(x, state, steps, false, carry);
      const logits = this.readout.forward(fwd.hs, false).y as tf.Tensor2D;
      const [stepLoss, dLogits] = windowLoss(this.task.output, logits, y, mask, this.batch);
      nats += (stepLoss.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
      scored += window.mask.reduce((a, b) => a + b, 0);
      disposeState(state);
      state = fwd.state;
      tf.dispose([x, y, mask, ...(carry ? [carry] : []), fwd.hs, logits, stepLoss, dLogits]);
    }
    disposeState(state);
    return { nats, scored };
  }

  /** Everything that continues training exactly: weights, optimizers, the carried state, M's boundary, the task's streams. */
  async exportState(): Promise<SavedTrainer> {
    const floats = (ts: tf.Tensor[]) => ts.map((t) => encodeFloats(t.dataSync() as Float32Array));
    const arrays = (as: Float32Array[]) => as.map(encodeFloats);
    const tensors: Record<string, string[]> = {
      lstm: floats(this.lstm.params),
      readout: arrays(await this.readout.getWeights()),
      optimizer: arrays(await this.optimizer.getState()),
      state: floats([this.state.h, this.state.c]),
      boundary: this.boundary ? floats([this.boundary.s, this.boundary.used]) : [],
      replayed: floats(this.replayed.flatMap((r) => (r.aux ? [r.s, r.target, r.aux] : [r.s, r.target]))),
      upcoming: this.upcoming ? encodeWindow(this.upcoming) : [],
    };
    if (this.synthesizer) {
      tensors.synthesizer = arrays(await this.synthesizer.net.getWeights());
      tensors.synthesizerOptimizer = arrays(await this.synthesizer.optimizer.getState());
    }
    return { step: this.step, tensors, task: this.task.getState() };
  }

  importState(saved: SavedTrainer): void {
    const arrays = this.importNetwork(saved);
    this.optimizer.setState(arrays('optimizer'));
    this.dropBoundary();
    const boundary = arrays('boundary');
    if (boundary.length === 2) {
      const units = this.options.units;
      const used: [number, number] = [this.batch, this.options.gradientAt === 'h' ? units : 2 * units];
      this.boundary = { s: tf.tensor2d(boundary[0], [this.batch, boundary[0].length / this.batch]), used: tf.tensor2d(boundary[1], used) };
    }
    if (this.synthesizer) {
      this.synthesizer.net.setWeights(arrays('synthesizer'));
      this.synthesizer.optimizer.setState(arrays('synthesizerOptimizer'));
    }
    this.importReplayed(saved.tensors.replayed ? arrays('replayed') : []);
    this.task.setState(saved.task);
    this.step = saved.step;
  }

  /** The remembered boundaries from a checkpoint: [s, target(, aux)] per boundary, oldest first. */
  private importReplayed(flat: Float32Array[]): void {
    this.replayed.forEach(disposeRemembered);
    this.replayed = [];
    const aux = this.options.mode === 'dni+aux';
    const per = aux ? 3 : 2;
    if (flat.length % per !== 0 || flat.length / per > this.replay - 1) {
      throw new Error(`sequence checkpoint: ${flat.length} replayed arrays do not make at most ${this.replay - 1} boundaries of ${per} (a checkpoint of another replay?)`);
    }
    const gradientUnits = this.options.gradientAt === 'h' ? this.options.units : 2 * this.options.units;
    for (let i = 0; i < flat.length; i += per) {
      const s = flat[i];
      const target = tf.tensor2d(flat[i + 1], [this.batch, gradientUnits]);
      this.replayed.push({ s: tf.tensor2d(s, [this.batch, s.length / this.batch]), target, aux: aux ? tf.tensor2d(flat[i + 2], [this.batch, gradientUnits]) : null });
    }
  }

  /**
   * The LSTM's and the readout's weights, the state carried into the next window and (a
   * conditioned M's run) that window, from a checkpoint of any mode (optimizers and M stay as they
   * are); returns a reader of the checkpoint's other tensors.
   */
  importNetwork(saved: SavedTrainer): (key: string) => Float32Array[] {
    const t = saved?.tensors;
    if (!t || !Array.isArray(t.lstm) || !Array.isArray(t.state)) throw new Error('sequence checkpoint: no tensors');
    const arrays = (key: string) => {
      if (!Array.isArray(t[key])) throw new Error(`sequence checkpoint: missing ${key} (a checkpoint of another mode?)`);
      return t[key].map((s, i) => decodeFloats(s, `${key}[${i}]`));
    };
    const lstm = arrays('lstm');
    if (lstm.length !== this.lstm.params.length || lstm.some((v, i) => v.length !== this.lstm.params[i].size)) {
      throw new Error(`sequence checkpoint: its LSTM does not have this run's shape (${this.options.units} units, ${this.task.inputUnits} inputs)`);
    }
    tf.tidy(() => this.lstm.params.forEach((p, i) => p.assign(tf.tensor(lstm[i], p.shape))));
    this.readout.setWeights(arrays('readout'));
    const [h, c] = arrays('state');
    disposeState(this.state);
    this.state = { h: tf.tensor2d(h, [this.batch, this.options.units]), c: tf.tensor2d(c, [this.batch, this.options.units]) };
    // a conditioned M's run has already read the next window from its task
    const upcoming = t.upcoming ?? [];
    this.upcoming = upcoming.length ? decodeWindow(upcoming, this.options.window, this.batch) : null;
    return arrays;
  }

  dispose(): void {
    disposeState(this.state);
    this.dropBoundary();
    this.replayed.forEach(disposeRemembered);
    this.replayed = [];
    this.synthesizer?.dispose();
    this.optimizer.dispose();
    this.readout.dispose();
    this.lstm.dispose();
  }
}

/** A boundary M trained on, kept for replay: its state, its target and (aux) its auxiliary target. */
interface Remembered {
  s: tf.Tensor2D;
  target: tf.Tensor2D;
  aux: tf.Tensor2D | null;
}

function disposeRemembered(r: Remembered): void {
  tf.dispose([r.s, r.target, r.aux ?? []]);
}

/** The next window's targets and score mask as M's extra input, [batch, steps·(outputs + 1)]. */
function conditionTensor(next: Window): tf.Tensor2D {
  return tf.tensor2d(conditionOf(next), [next.batch, next.mask.length / next.batch + next.y.length / next.batch]);
}

/** Per stream, the window's targets and score mask, step after step: [batch, steps·(outputs + 1)] row-major. */
function conditionOf(window: Window): Float32Array {
  const { steps, batch } = window;
  const outputs = window.y.length / (steps * batch);
  const width = steps * (outputs + 1);
  const out = new Float32Array(batch * width);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < steps; t++) {
      const row = t * batch + b;
      const at = b * width + t * (outputs + 1);
      out.set(window.y.subarray(row * outputs, (row + 1) * outputs), at);
      out[at + outputs] = window.mask[row];
    }
  }
  return out;
}

/** The next window (conditioned M) in a checkpoint: x, y, mask, carry and ends, '' where absent. */
function encodeWindow(w: Window): string[] {
  return [w.x, w.y, w.mask, w.carry, w.ends ?? null].map((a) => (a ? encodeFloats(a) : ''));
}

function decodeWindow(parts: string[], steps: number, batch: number): Window {
  const [x, y, mask, carry, ends] = parts.map((p, i) => (p === '' ? null : decodeFloats(p, `upcoming[${i}]`)));
  if (!x || !y || !mask || x.length % (steps * batch) !== 0) throw new Error('sequence checkpoint: the next window is incomplete');
  return { steps, batch, x, y, mask, carry, ...(ends && { ends }) };
}
