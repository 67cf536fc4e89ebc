import * as tf from '@tensorflow/tfjs-core';
import { checkMatrix, checkUnits, type Backward, type Forward, type Layer, type Trace } from './layer.js';
import { Lstm, disposeState, type LstmState, type WindowTrace } from './lstm.js';
import { Dense, type DenseActivation } from './dense.js';
import { Sequential } from './sequential.js';
import { glorotUniform } from './init.js';

/** The synthesizer in time of an LSTM layer: its hidden widths ([]: linear) and the discount γ. */
export interface TimeSynthesizerSpec {
  hiddenLayers: number[];
  /** The hidden layers' activation (default relu). */
  activation?: DenseActivation;
  /** The synthetic gradient applied at the window's end is γ·M(s)/streams. */
  discount: number;
}

export interface LstmLayerOptions {
  inputUnits: number;
  units: number;
  /** Streams side by side: a batch of rows is T windows of `streams` rows, time-major. */
  streams: number;
  /** null: the gradient is cut at each window's end (truncated BPTT). */
  timeSynthesizer: TimeSynthesizerSpec | null;
  rng: () => number;
  name?: string;
}

/** Figures of the time synthesizer's last training step (read lazily by whoever wants them). */
export interface TimeSynthesizerFigures {
  /** ||M(s) - target||², mean over the streams (per-stream units; the target is B·dL/dh at the window's start). */
  loss: tf.Scalar;
  /** Cosine of M(s) with its target. */
  cosine: tf.Scalar;
}

/**
 * An LSTM as a layer of a stage (src/model/lstm.ts does the arithmetic): a batch of rows is one
 * window of T steps of `streams` streams, time-major ([T·streams, inputUnits], row t·streams + b is
 * step t of stream b), so the layers around it see rows as they see examples. The state (h, c)
 * carried from one training window to the next lives in the layer's `state` variables, so it is in
 * every checkpoint of the stage. Evaluation carries its own state, from zero at startEvaluation().
 *
 * With a time synthesizer M (DNI in time, docs/recurrent.md): M reads the state s = [h, tanh c] at
 * the end of window k, and the synthetic gradient ĝ = γ·M(s_k)/streams enters the backward pass at
 * h_k (none enters at c_k); the gradient that reaches h at the window's start, h_{k-1} (the true one
 * of this window plus ĝ pushed back through it), is the bootstrapped target for M(s_{k-1}), in
 * per-stream units (times streams). M's parameters are among the layer's params: backward returns
 * the gradient of M's squared error with the LSTM's, and the stage's optimizer takes both. M's
 * output layer starts at zero.
 *
 * Why h only: in a stack of three such layers, a synthetic gradient at c as well drove the cells to
 * integrate without bound (|c| in the thousands within a few hundred windows, the gates saturated,
 * h constant, the model stuck at the unigram distribution, 4.3 bits per character), even with M
 * reading tanh c and γ = 0.1; with ĝ at h alone the stack trains as with the gradient cut
 * (docs/recurrent.md, Deep).
 */
export class LstmLayer implements Layer {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly inputUnits: number;
  readonly outputUnits: number;
  readonly params: tf.Variable[];
  /** The carried state: h, then c, each [streams, units]. */
  readonly state: tf.Variable[];
  readonly lstm: Lstm;
  readonly synthesizer: Sequential | null;
  readonly streams: number;
  /** The time synthesizer's figures of the last backward pass (null: none yet, or no synthesizer). */
  lastFigures: TimeSynthesizerFigures | null = null;
  private readonly h: tf.Variable<tf.Rank.R2>;
  private readonly c: tf.Variable<tf.Rank.R2>;
  private evalState: LstmState | null = null;

  constructor(private readonly opts: LstmLayerOptions) {
    checkUnits(opts.streams, 'LstmLayer streams');
    const n = opts.units;
    this.name = opts.name ?? `lstm(${opts.inputUnits}->${n})`;
    this.lstm = new Lstm({ inputUnits: opts.inputUnits, units: n, rng: opts.rng, name: this.name });
    this.inputUnits = opts.inputUnits;
    this.outputUnits = n;
    this.inputShape = [opts.inputUnits];
    this.outputShape = [n];
    this.streams = opts.streams;
    this.h = tf.tidy(() => tf.variable(tf.zeros([opts.streams, n]), false));
    this.c = tf.tidy(() => tf.variable(tf.zeros([opts.streams, n]), false));
    this.state = [this.h, this.c];
    this.synthesizer = opts.timeSynthesizer ? timeSynthesizer(2 * n, n, opts.timeSynthesizer, opts.rng, this.name) : null;
    this.params = [...this.lstm.params, ...(this.synthesizer?.params ?? [])];
  }

  /** The time synthesizer's figures of the last backward pass, handed over (the caller disposes them); null: none since. */
  takeFigures(): TimeSynthesizerFigures | null {
    const figures = this.lastFigures;
    this.lastFigures = null;
    return figures;
  }

  /** Evaluation passes start from a zero state of their own; the training state is not touched. */
  startEvaluation(): void {
    disposeState(this.evalState);
    this.evalState = null;
  }

  forward(x: tf.Tensor, training: boolean): Forward {
    const steps = this.steps(x);
    if (!training) {
      const from = this.evalState ?? this.lstm.zeroState(this.streams);
      const out = this.lstm.forward(x as tf.Tensor2D, from, steps, false);
      disposeState(from);
      this.evalState = { h: tf.keep(out.state.h), c: tf.keep(out.state.c) };
      return { y: out.hs, trace: [] };
    }
    const out = this.lstm.forward(x as tf.Tensor2D, { h: this.h, c: this.c }, steps, true);
    this.h.assign(out.state.h);
    this.c.assign(out.state.c);
    const t = out.trace!;
    // the trace as a flat list (see traceOf): the window's, then the state it ended in
    const trace: Trace = [t.x, t.kernel, t.recurrent, ...t.hPrev, ...t.cPrev, ...t.ifo, ...t.g, ...t.tanhC, out.state.h, out.state.c];
    return { y: out.hs, trace };
  }

  backward(trace: Trace, dy: tf.Tensor, needInputGrad: boolean): Backward {
    const { window, end } = this.traceOf(trace);
    const rows = window.steps * this.streams;
    checkMatrix(dy, this.outputUnits, `${this.name} backward dy`, rows);
    const M = this.synthesizer;
    const B = this.streams;
    type Out = { dx: tf.Tensor2D | null; grads: tf.Tensor[]; figures: TimeSynthesizerFigures | null };
    const out = tidy<Out>(() => {
      // ĝ at the window's end: γ·M(s_k)/B, s_k = [h, c] (a constant for this pass)
      const gamma = this.opts.timeSynthesizer?.discount ?? 1;
      const g = M ? (tf.mul(M.forward(synthesizerInput(end.h, end.c), false).y, gamma / B) as tf.Tensor2D) : null;
      const dFinal = g && { h: g, c: tf.zerosLike(g) };
      const back = this.lstm.backward(window, dy as tf.Tensor2D, dFinal, needInputGrad);
      if (!M) return { dx: back.dx, grads: back.grads, figures: null };
      // M(s_{k-1}) toward B·dL/ds_{k-1}: the gradient of the mean over streams of the squared error
      const target = tf.mul(back.dState.h, B);
      const { y, trace: mTrace } = M.forward(synthesizerInput(window.hPrev[0], window.cPrev[0]), true);
      const diff = tf.sub(y, target);
      const { grads } = M.backward(mTrace, tf.mul(diff, 2 / B), false);
      const dot = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(a, b));
      const loss = tf.div(dot(diff, diff), B) as tf.Scalar;
      const cosine = tf.div(dot(y, target), tf.maximum(tf.sqrt(tf.mul(dot(y, y), dot(target, target))), 1e-12)) as tf.Scalar;
      return { dx: back.dx, grads: [...back.grads, ...grads], figures: { loss, cosine } };
    });
    if (this.lastFigures) tf.dispose([this.lastFigures.loss, this.lastFigures.cosine]);
    // kept past a tidy the caller runs this in: they are not among the results
    this.lastFigures = out.figures && { loss: tf.keep(out.figures.loss), cosine: tf.keep(out.figures.cosine) };
    return { dx: out.dx, grads: out.grads };
  }

  dispose(): void {
    this.startEvaluation();
    if (this.lastFigures) tf.dispose([this.lastFigures.loss, this.lastFigures.cosine]);
    this.lastFigures = null;
  }

  /** T, from the rows of a window. */
  private steps(x: tf.Tensor): number {
    checkMatrix(x, this.inputUnits, `${this.name} forward x`);
    const rows = x.shape[0];
    if (rows % this.streams !== 0) throw new Error(`${this.name}: a window of ${rows} rows is not whole steps of ${this.streams} streams`);
    return rows / this.streams;
  }

  private traceOf(trace: Trace): { window: WindowTrace; end: LstmState } {
    const steps = (trace.length - 5) / 5;
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`${this.name}: a trace of ${trace.length} tensors is not a window's`);
    const rest = trace.slice(3, 3 + 5 * steps) as tf.Tensor2D[];
    const take = () => rest.splice(0, steps);
    const [x, kernel, recurrent] = trace as tf.Tensor2D[];
    const window: WindowTrace = { steps, x, kernel, recurrent, hPrev: take(), cPrev: take(), ifo: take(), g: take(), tanhC: take(), carry: null };
    return { window, end: { h: trace[trace.length - 2] as tf.Tensor2D, c: trace[trace.length - 1] as tf.Tensor2D } };
  }
}

/**
 * What M reads of a state s = (h, c): [h, tanh c]. c itself is unbounded (it can integrate over
 * any number of windows), and a synthetic gradient that grows with its input feeds its own growth.
 */
function synthesizerInput(h: tf.Tensor2D, c: tf.Tensor2D): tf.Tensor2D {
  return tf.concat([h, tf.tanh(c)], 1);
}

/** tf.tidy for a function returning an object of tensors (kept; intermediates are freed). */
function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as () => tf.TensorContainer) as T;
}

/** M: dense hidden layers (ReLU unless the spec says), then a linear output that starts at zero (ĝ = 0 until it has learned). */
function timeSynthesizer(inputs: number, units: number, spec: TimeSynthesizerSpec, rng: () => number, name: string): Sequential {
  const layers: Dense[] = [];
  let width = inputs;
  spec.hiddenLayers.forEach((w, i) => {
    layers.push(new Dense({ inputUnits: width, units: w, useBias: true, activation: spec.activation ?? 'relu', init: glorotUniform(width, w, rng), name: `${name}/time-synthesizer${i}` }));
    width = w;
  });
  layers.push(new Dense({ inputUnits: width, units, useBias: true, activation: 'linear', init: 'zeros', name: `${name}/time-synthesizer-out` }));
  return new Sequential(layers);
}
