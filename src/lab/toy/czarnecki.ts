/**
 * Czarnecki et al. 2017 ("Understanding Synthetic Gradients and Decoupled Neural Interfaces",
 * arXiv 1703.00522), section 3, in small: a model f(x) below one interface h = f(x) and the loss
 * on top, trained by backprop or by a synthetic gradient ĝ = M(h, y) at h, with M trained at
 * every step to regress the true per-example gradient dℓ/dh (as a DNI synthesizer's last
 * interface does). Full-batch gradient descent in float64, no tfjs: the point is where each
 * method ends, not speed.
 *
 * - MSE, ℓ = ½‖h − y‖²: dℓ/dh = h − y is linear in (h, y), so a linear M can represent it, and a
 *   linear model and a deep linear one (three matrices) reach the solution backprop reaches.
 * - Log loss on a logit z, ℓ = log(1 + e^z) − t·z: dℓ/dz = σ(z) − t is not linear in z, so a linear
 *   M = a·z + b·t + c cannot represent it and the model stops elsewhere; with M = σ(a·z + c) − t
 *   (its output through a sigmoid) it can, and it reaches backprop's solution.
 */
import { stream } from '../../stage/rng.js';

export type ToyLoss = 'mse' | 'log';
export type ToyMethod = 'backprop' | 'sg-linear' | 'sg-sigmoid';

export interface ToyOptions {
  loss: ToyLoss;
  /** Matrices in the model: 1 (linear) or more (deep linear, square hidden layers). */
  depth: number;
  method: ToyMethod;
  steps: number;
  seed?: string;
}

export interface ToyResult {
  loss: number;
  /** The model's end-to-end linear map (the product of its matrices), row-major [outputs, inputs]. */
  map: Float64Array;
  /** Log loss: the fraction of training examples classified right. */
  accuracy: number | null;
}

const INPUTS = 8;
const EXAMPLES = 256;

interface Data {
  x: Float64Array[];
  y: Float64Array[];
  outputs: number;
}

/** The artificial data: x ~ N(0, I); MSE: y = A x + noise (3 outputs); log loss: t ~ Bernoulli(σ(w*·x)). */
function dataset(loss: ToyLoss, seed: string): Data {
  const rng = stream(seed, 'toy', loss, 'data');
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const outputs = loss === 'mse' ? 3 : 1;
  const teacher = Array.from({ length: outputs * INPUTS }, () => normal());
  const x = Array.from({ length: EXAMPLES }, () => Float64Array.from({ length: INPUTS }, normal));
  const y = x.map((xi) => {
    const z = Float64Array.from({ length: outputs }, (_, o) => teacher.slice(o * INPUTS, (o + 1) * INPUTS).reduce((s, w, i) => s + w * xi[i], 0));
    return loss === 'mse' ? z.map((v) => v + 0.1 * normal()) : z.map((v) => (rng() < sigmoid(v) ? 1 : 0));
  });
  return { x, y, outputs };
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** Per example: ℓ and dℓ/dh. */
function lossAndGradient(loss: ToyLoss, h: Float64Array, y: Float64Array): { value: number; gradient: Float64Array } {
  if (loss === 'mse') {
    const gradient = h.map((v, o) => v - y[o]);
    return { value: 0.5 * gradient.reduce((s, d) => s + d * d, 0), gradient };
  }
  const z = h[0];
  const value = Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y[0] * z;
  return { value, gradient: Float64Array.of(sigmoid(z) - y[0]) };
}

/** y = M x for M row-major [rows, cols]. */
function apply(m: Float64Array, rows: number, cols: number, x: Float64Array): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r] += m[r * cols + c] * x[c];
  return out;
}

/** xᵀ M for M row-major [rows, cols]: the gradient through y = M x. */
function applyTransposed(m: Float64Array, rows: number, cols: number, dy: Float64Array): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += m[r * cols + c] * dy[r];
  return out;
}

/**
 * The synthesizer at h: linear, ĝ = P h + Q y + c, or (log loss) ĝ = σ(a·z + c) − t. Its
 * parameters take a gradient step on ½‖ĝ − g‖² (mean over the batch) each step.
 */
class ToySynthesizer {
  private readonly p: Float64Array;
  private readonly q: Float64Array;
  private readonly c: Float64Array;

  constructor(
    private readonly outputs: number,
    private readonly sigmoidOutput: boolean,
  ) {
    this.p = new Float64Array(outputs * outputs);
    this.q = new Float64Array(outputs * outputs);
    this.c = new Float64Array(outputs);
  }

  predict(h: Float64Array, y: Float64Array): Float64Array {
    if (this.sigmoidOutput) return Float64Array.of(sigmoid(this.p[0] * h[0] + this.c[0]) - y[0]);
    const ph = apply(this.p, this.outputs, this.outputs, h);
    const qy = apply(this.q, this.outputs, this.outputs, y);
    return ph.map((v, o) => v + qy[o] + this.c[o]);
  }

  /** One step on ½‖M(h, y) − g‖², mean over the examples. */
  train(hs: Float64Array[], ys: Float64Array[], targets: Float64Array[], rate: number): void {
    const k = this.outputs;
    const dp = new Float64Array(this.p.length);
    const dq = new Float64Array(this.q.length);
    const dc = new Float64Array(k);
    hs.forEach((h, i) => {
      const predicted = this.predict(h, ys[i]);
      for (let o = 0; o < k; o++) {
        let d = (predicted[o] - targets[i][o]) / hs.length;
        if (this.sigmoidOutput) d *= (predicted[o] + ys[i][o]) * (1 - predicted[o] - ys[i][o]); // σ' at the pre-activation
        dc[o] += d;
        for (let j = 0; j < k; j++) {
          dp[o * k + j] += d * h[j];
          dq[o * k + j] += d * ys[i][j];
        }
      }
    });
    for (let i = 0; i < dp.length; i++) this.p[i] -= rate * dp[i];
    if (!this.sigmoidOutput) for (let i = 0; i < dq.length; i++) this.q[i] -= rate * dq[i];
    for (let i = 0; i < k; i++) this.c[i] -= rate * dc[i];
  }
}

/** Trains one model of `options` on the artificial data; returns where it ended. */
export function trainToy(options: ToyOptions): ToyResult {
  const seed = options.seed ?? '1';
  const data = dataset(options.loss, seed);
  const k = data.outputs;
  const rng = stream(seed, 'toy', options.loss, 'init', options.depth);
  // matrices x -> ... -> h: depth - 1 square hidden ones [INPUTS, INPUTS], then [k, INPUTS]
  const shapes = Array.from({ length: options.depth }, (_, i) => [i === options.depth - 1 ? k : INPUTS, INPUTS] as const);
  const weights = shapes.map(([r, c]) => Float64Array.from({ length: r * c }, () => (2 * rng() - 1) * Math.sqrt(3 / c)));
  const synthesizer = options.method === 'backprop' ? null : new ToySynthesizer(k, options.method === 'sg-sigmoid');
  const rate = options.loss === 'mse' ? 0.05 : 0.5;
  const synthesizerRate = 0.05;
  for (let step = 0; step < options.steps; step++) {
    const grads = weights.map((w) => new Float64Array(w.length));
    const hs: Float64Array[] = [];
    const targets: Float64Array[] = [];
    data.x.forEach((x, i) => {
      const activations = [x];
      weights.forEach((w, l) => activations.push(apply(w, shapes[l][0], shapes[l][1], activations[l])));
      const h = activations[activations.length - 1];
      const trueGradient = lossAndGradient(options.loss, h, data.y[i]).gradient;
      let g = synthesizer ? synthesizer.predict(h, data.y[i]) : trueGradient;
      for (let l = weights.length - 1; l >= 0; l--) {
        const [r, c] = shapes[l];
        for (let a = 0; a < r; a++) for (let b = 0; b < c; b++) grads[l][a * c + b] += (g[a] * activations[l][b]) / data.x.length;
        g = applyTransposed(weights[l], r, c, g);
      }
      hs.push(h);
      targets.push(trueGradient);
    });
    weights.forEach((w, l) => grads[l].forEach((d, i) => (w[i] -= rate * d)));
    synthesizer?.train(hs, data.y, targets, synthesizerRate);
  }
  // the end-to-end map and the loss and accuracy there
  let map: Float64Array = weights[0];
  for (let l = 1; l < weights.length; l++) map = multiply(weights[l], shapes[l][0], shapes[l][1], map, INPUTS);
  let total = 0;
  let right = 0;
  data.x.forEach((x, i) => {
    const h = apply(map, k, INPUTS, x);
    total += lossAndGradient(options.loss, h, data.y[i]).value;
    if (options.loss === 'log' && (h[0] > 0 ? 1 : 0) === data.y[i][0]) right += 1;
  });
  return { loss: total / data.x.length, map, accuracy: options.loss === 'log' ? right / data.x.length : null };
}

/** A [rows, inner] times B [inner, cols]. */
function multiply(a: Float64Array, rows: number, inner: number, b: Float64Array, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let i = 0; i < inner; i++) for (let c = 0; c < cols; c++) out[r * cols + c] += a[r * inner + i] * b[i * cols + c];
  return out;
}

/** The largest absolute difference between two maps of the same shape. */
export function mapDistance(a: Float64Array, b: Float64Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

/** One row of the toy table: a data set and model, a method, and where it ended against backprop. */
export interface ToyRow {
  loss: ToyLoss;
  depth: number;
  method: ToyMethod;
  steps: number;
  finalLoss: number;
  accuracy: number | null;
  /** max |map − backprop's map| at the same step. */
  distance: number;
}

/** The experiments of the table: MSE on a linear and a deep linear model, log loss on a linear one. */
export const toyExperiments: { loss: ToyLoss; depth: number; steps: number; methods: ToyMethod[] }[] = [
  { loss: 'mse', depth: 1, steps: 4000, methods: ['backprop', 'sg-linear'] },
  { loss: 'mse', depth: 3, steps: 4000, methods: ['backprop', 'sg-linear'] },
  { loss: 'log', depth: 1, steps: 8000, methods: ['backprop', 'sg-linear', 'sg-sigmoid'] },
];

export function toyRows(seed = '1', experiments = toyExperiments): ToyRow[] {
  return experiments.flatMap(({ loss, depth, steps, methods }) => {
    const reference = trainToy({ loss, depth, steps, method: 'backprop', seed });
    return methods.map((method) => {
      const r = method === 'backprop' ? reference : trainToy({ loss, depth, steps, method, seed });
      return { loss, depth, method, steps, finalLoss: r.loss, accuracy: r.accuracy, distance: mapDistance(r.map, reference.map) };
    });
  });
}

const methodText: Record<ToyMethod, string> = { backprop: 'backprop', 'sg-linear': 'SG, linear M', 'sg-sigmoid': 'SG, M through a sigmoid' };

export function toyMarkdown(rows: ToyRow[], command: string): string {
  const lines = [
    "Czarnecki et al. 2017's toy experiments (section 3): 256 examples x ~ N(0, I_8), full-batch gradient descent; MSE: y = A x + noise (3 outputs), " +
      'log loss: t ~ Bernoulli(σ(w*·x)). "distance" is the largest difference between the model\'s end-to-end linear map and the one backprop reached in as many steps.',
    `Built by \`${command}\`.`,
    '',
    '| loss | model | method | steps | final loss | accuracy | distance to backprop |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.loss === 'mse' ? 'MSE' : 'log loss'} | ${r.depth === 1 ? 'linear' : `deep linear (${r.depth} matrices)`} | ${methodText[r.method]} | ${r.steps} | ${r.finalLoss.toFixed(6)} | ${r.accuracy === null ? '-' : r.accuracy.toFixed(4)} | ${r.distance.toExponential(1)} |`,
    ),
  ];
  return lines.join('\n') + '\n';
}
