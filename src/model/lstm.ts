import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../runtime/mat-mul.js';
import { alias, checkMatrix, checkUnits, columnSum, transpose2d } from './layer.js';
import { glorotUniform } from './init.js';

/** The recurrent state carried from one window to the next: h and c, each [batch, units]. */
export type LstmState = { h: tf.Tensor2D; c: tf.Tensor2D };

/**
 * What a training-mode window forward keeps for its backward pass (owned: dispose with
 * `disposeWindowTrace`): the inputs, the weights as they were, and per step the state it started
 * from, the gates and tanh(c_t).
 */
export type WindowTrace = {
  steps: number;
  x: tf.Tensor2D;
  kernel: tf.Tensor2D;
  recurrent: tf.Tensor2D;
  /** h_{t-1} for t = 1..T, one [batch, units] each. */
  hPrev: tf.Tensor2D[];
  cPrev: tf.Tensor2D[];
  /** sigmoid of the i, f, o pre-activations, [batch, 3 units]. */
  ifo: tf.Tensor2D[];
  /** tanh of the candidate pre-activation. */
  g: tf.Tensor2D[];
  /** tanh(c_t). */
  tanhC: tf.Tensor2D[];
  /** Per step, [batch, 1]: 0 where a stream's state was reset before the step, else 1 (null: no resets). */
  carry: tf.Tensor2D[] | null;
};

export type WindowForward = {
  /** h_1..h_T stacked time-major: row t·batch + b is step t+1 of stream b; [T·batch, units]. */
  hs: tf.Tensor2D;
  /** The state after the last step (what the next window starts from). */
  state: LstmState;
  /** null unless training. */
  trace: WindowTrace | null;
};

export type WindowBackward = {
  /** dL/dx, time-major like x, or null when not requested. */
  dx: tf.Tensor2D | null;
  /** dL/d(h_0, c_0): the gradient that reaches the state this window started from. */
  dState: LstmState;
  /** dL/dθ in the order of `Lstm.params`: kernel, recurrent kernel, bias. */
  grads: tf.Tensor[];
};

export interface LstmOptions {
  inputUnits: number;
  units: number;
  /** Draws the kernels (Glorot uniform, each gate block on its own). */
  rng: () => number;
  /** Initial bias of the forget gate (the other biases start at zero). Default 1. */
  forgetBias?: number;
  name?: string;
}

export function disposeWindowTrace(trace: WindowTrace | null): void {
  if (!trace) return;
  tf.dispose([trace.x, trace.kernel, trace.recurrent, ...trace.hPrev, ...trace.cPrev, ...trace.ifo, ...trace.g, ...trace.tanhC, ...(trace.carry ?? [])]);
}

export function disposeState(state: LstmState | null): void {
  if (state) tf.dispose([state.h, state.c]);
}

/**
 * An LSTM layer over windows of T steps, with its backward pass through time written out.
 * Gates, in this order in the 4·units columns: i, f, o (sigmoid), g (tanh);
 *   z_t = x_t Wx + h_{t-1} Wh + b,  c_t = f ⊙ c_{t-1} + i ⊙ g,  h_t = o ⊙ tanh(c_t).
 * A window's input is time-major, [T·batch, inputUnits] (row t·batch + b: step t of stream b), so
 * x Wx is one matMul for the whole window, and so are the weight gradients in backward.
 */
export class Lstm {
  readonly name: string;
  readonly inputUnits: number;
  readonly units: number;
  /** [inputUnits, 4 units] */
  readonly kernel: tf.Variable<tf.Rank.R2>;
  /** [units, 4 units] */
  readonly recurrent: tf.Variable<tf.Rank.R2>;
  /** [4 units] */
  readonly bias: tf.Variable<tf.Rank.R1>;
  readonly params: tf.Variable[];

  constructor(opts: LstmOptions) {
    checkUnits(opts.inputUnits, 'Lstm inputUnits');
    checkUnits(opts.units, 'Lstm units');
    const n = opts.units;
    this.name = opts.name ?? `lstm(${opts.inputUnits}->${n})`;
    this.inputUnits = opts.inputUnits;
    this.units = n;
    const gates = (fanIn: number): Float32Array => {
      // each gate's block drawn as its own [fanIn, units] Glorot matrix, then interleaved by row
      const blocks = [0, 1, 2, 3].map(() => glorotUniform(fanIn, n, opts.rng));
      const out = new Float32Array(fanIn * 4 * n);
      for (let r = 0; r < fanIn; r++) blocks.forEach((b, k) => out.set(b.subarray(r * n, (r + 1) * n), r * 4 * n + k * n));
      return out;
    };
    const kernel = gates(opts.inputUnits);
    const recurrent = gates(n);
    const bias = new Float32Array(4 * n);
    bias.fill(opts.forgetBias ?? 1, n, 2 * n);
    this.kernel = tf.tidy(() => tf.variable(tf.tensor2d(kernel, [opts.inputUnits, 4 * n]), true));
    this.recurrent = tf.tidy(() => tf.variable(tf.tensor2d(recurrent, [n, 4 * n]), true));
    this.bias = tf.tidy(() => tf.variable(tf.tensor1d(bias), true));
    this.params = [this.kernel, this.recurrent, this.bias];
  }

  /** A zero state for `batch` streams. */
  zeroState(batch: number): LstmState {
    return { h: tf.zeros([batch, this.units]), c: tf.zeros([batch, this.units]) };
  }

  /**
   * Runs `steps` steps from `state` (not disposed: the caller owns it). `x` is [steps·batch, inputUnits].
   * The returned state and hs are new tensors; with `training` the trace keeps what backward needs.
   * `carry` ([steps·batch, 1], time-major, or null): 0 resets a stream's state to zero before that
   * step (a new episode starts there; no gradient flows back across it), 1 keeps it.
   */
  forward(x: tf.Tensor2D, state: LstmState, steps: number, training: boolean, carry: tf.Tensor2D | null = null): WindowForward {
    const batch = state.h.shape[0];
    checkMatrix(state.h, this.units, `${this.name} forward h`);
    checkMatrix(state.c, this.units, `${this.name} forward c`, batch);
    checkMatrix(x, this.inputUnits, `${this.name} forward x`, steps * batch);
    if (carry) checkMatrix(carry, 1, `${this.name} forward carry`, steps * batch);
    const n = this.units;
    const keep: tf.Tensor[] = [];
    tf.tidy(() => {
      const xw = tf.add(matMul(x, this.kernel), this.bias) as tf.Tensor2D;
      let h = state.h;
      let c = state.c;
      const hs: tf.Tensor2D[] = [];
      const trace: WindowTrace | null = training
        ? { steps, x: alias(x), kernel: alias(this.kernel), recurrent: alias(this.recurrent), hPrev: [], cPrev: [], ifo: [], g: [], tanhC: [], carry: carry ? [] : null }
        : null;
      for (let t = 0; t < steps; t++) {
        if (carry) {
          const kept = tf.slice(carry, [t * batch, 0], [batch, 1]) as tf.Tensor2D;
          h = tf.mul(h, kept);
          c = tf.mul(c, kept);
          trace?.carry!.push(kept);
        }
        const z = tf.add(tf.slice(xw, [t * batch, 0], [batch, 4 * n]), matMul(h, this.recurrent));
        const ifo = tf.sigmoid(tf.slice(z, [0, 0], [batch, 3 * n])) as tf.Tensor2D;
        const g = tf.tanh(tf.slice(z, [0, 3 * n], [batch, n])) as tf.Tensor2D;
        const i = tf.slice(ifo, [0, 0], [batch, n]);
        const f = tf.slice(ifo, [0, n], [batch, n]);
        const o = tf.slice(ifo, [0, 2 * n], [batch, n]);
        const cNext = tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D;
        const tanhC = tf.tanh(cNext) as tf.Tensor2D;
        const hNext = tf.mul(o, tanhC) as tf.Tensor2D;
        if (trace) {
          trace.hPrev.push(t === 0 && !carry ? alias(h) : h);
          trace.cPrev.push(t === 0 && !carry ? alias(c) : c);
          trace.ifo.push(ifo);
          trace.g.push(g);
          trace.tanhC.push(tanhC);
        }
        hs.push(hNext);
        h = hNext;
        c = cNext;
      }
      const out = { hs: (steps === 1 ? alias(hs[0]) : tf.concat(hs, 0)) as tf.Tensor2D, state: { h: alias(h), c: alias(c) }, trace };
      keep.push(out.hs, out.state.h, out.state.c);
      if (trace) keep.push(trace.x, trace.kernel, trace.recurrent, ...trace.hPrev, ...trace.cPrev, ...trace.ifo, ...trace.g, ...trace.tanhC, ...(trace.carry ?? []));
      return keep;
    });
    return { hs: keep[0] as tf.Tensor2D, state: { h: keep[1] as tf.Tensor2D, c: keep[2] as tf.Tensor2D }, trace: this.traceOf(keep, steps, training) };
  }

  private traceOf(keep: tf.Tensor[], steps: number, training: boolean): WindowTrace | null {
    // keep: hs, h_T, c_T, x, kernel, recurrent, then steps tensors each of hPrev, cPrev, ifo, g, tanhC (and carry)
    if (!training) return null;
    const rest = keep.slice(6) as tf.Tensor2D[];
    const take = () => rest.splice(0, steps);
    const trace = { steps, x: keep[3] as tf.Tensor2D, kernel: keep[4] as tf.Tensor2D, recurrent: keep[5] as tf.Tensor2D, hPrev: take(), cPrev: take(), ifo: take(), g: take(), tanhC: take() };
    return { ...trace, carry: rest.length ? take() : null };
  }

  /**
   * Backward through the window. `dhs` is dL/dh_t from the window's own outputs, time-major
   * [T·batch, units] (or null: none); `dFinal` is the gradient entering at the window's last state
   * (the true one from the next window, a synthetic one, or null for a cut). Disposes nothing.
   */
  backward(trace: WindowTrace, dhs: tf.Tensor2D | null, dFinal: LstmState | null, needInputGrad: boolean): WindowBackward {
    const steps = trace.steps;
    const batch = trace.hPrev[0].shape[0];
    const n = this.units;
    if (dhs) checkMatrix(dhs, n, `${this.name} backward dhs`, steps * batch);
    if (dFinal) {
      checkMatrix(dFinal.h, n, `${this.name} backward dh_T`, batch);
      checkMatrix(dFinal.c, n, `${this.name} backward dc_T`, batch);
    }
    const out = tf.tidy(() => {
      // no transpose flags: they are ~15x slower on wasm than an explicit transpose
      const recurrentT = transpose2d(trace.recurrent);
      let dh: tf.Tensor2D = dFinal ? dFinal.h : tf.zeros([batch, n]);
      let dc: tf.Tensor2D = dFinal ? dFinal.c : tf.zeros([batch, n]);
      const dz: tf.Tensor2D[] = new Array(steps);
      for (let t = steps - 1; t >= 0; t--) {
        if (dhs) dh = tf.add(dh, tf.slice(dhs, [t * batch, 0], [batch, n]));
        const ifo = trace.ifo[t];
        const i = tf.slice(ifo, [0, 0], [batch, n]);
        const f = tf.slice(ifo, [0, n], [batch, n]);
        const o = tf.slice(ifo, [0, 2 * n], [batch, n]);
        const g = trace.g[t];
        const tanhC = trace.tanhC[t];
        // dc_t = dc_{t+1}·f_{t+1} (carried in dc) + dh_t ⊙ o ⊙ (1 - tanh²c_t)
        const dcT = tf.add(dc, tf.mul(tf.mul(dh, o), tf.sub(1, tf.square(tanhC))));
        const dIfo = tf.concat([tf.mul(dcT, g), tf.mul(dcT, trace.cPrev[t]), tf.mul(dh, tanhC)], 1);
        const dzIfo = tf.mul(dIfo, tf.mul(ifo, tf.sub(1, ifo)));
        const dzG = tf.mul(tf.mul(dcT, i), tf.sub(1, tf.square(g)));
        dz[t] = tf.concat([dzIfo, dzG], 1) as tf.Tensor2D;
        dc = tf.mul(dcT, f) as tf.Tensor2D;
        dh = matMul(dz[t], recurrentT);
        if (trace.carry) {
          // the gradient reaches the state before the reset only where it was kept
          dh = tf.mul(dh, trace.carry[t]);
          dc = tf.mul(dc, trace.carry[t]);
        }
      }
      const dZ = (steps === 1 ? dz[0] : tf.concat(dz, 0)) as tf.Tensor2D;
      const hPrev = (steps === 1 ? trace.hPrev[0] : tf.concat(trace.hPrev, 0)) as tf.Tensor2D;
      const res: tf.Tensor[] = [
        matMul(transpose2d(trace.x), dZ),
        matMul(transpose2d(hPrev), dZ),
        tf.reshape(columnSum(dZ), [4 * n]),
        alias(dh),
        alias(dc),
      ];
      if (needInputGrad) res.push(matMul(dZ, transpose2d(trace.kernel)));
      return res;
    });
    return {
      grads: out.slice(0, 3),
      dState: { h: out[3] as tf.Tensor2D, c: out[4] as tf.Tensor2D },
      dx: needInputGrad ? (out[5] as tf.Tensor2D) : null,
    };
  }

  dispose(): void {
    tf.dispose(this.params);
  }
}
