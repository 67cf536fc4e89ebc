import * as tf from '@tensorflow/tfjs-core';
import { readAll } from '../runtime/read.js';
import { alias, checkBatchOf, type Backward, type InputBackward, type Layer, type Trace } from './layer.js';

// A type alias (not an interface) so that it is a tf.TensorContainer: tf.tidy(() => net.forward(x, true)) type-checks.
export type SequentialForward = {
  /** [batch, ...outputShape] of the last layer ([batch, units] for dense layers; NHWC after a conv/pool). */
  y: tf.Tensor;
  /** One trace per layer (empty arrays in eval mode). Dispose with tf.dispose(trace). */
  trace: Trace[];
};

/**
 * A stack of layers run in order, with an explicit backward pass. Consecutive layers must agree on
 * the flattened size, and on the shape when both have more than one dimension; a layer whose input
 * has several dimensions takes the previous output flat too (see Layer).
 */
export class Sequential {
  readonly layers: readonly Layer[];
  /** All layers' params, concatenated in layer order. */
  readonly params: tf.Variable[];
  /** All layers' state (BN running statistics), concatenated in layer order. */
  readonly state: tf.Variable[];
  private disposed = false;

  constructor(layers: Layer[]) {
    for (let i = 1; i < layers.length; i++) {
      if (layers[i].inputUnits !== layers[i - 1].outputUnits) {
        throw new Error(
          `Sequential: ${layers[i - 1].name} outputs ${layers[i - 1].outputUnits} units but ${layers[i].name} expects ${layers[i].inputUnits}`,
        );
      }
      const out = layers[i - 1].outputShape;
      const inp = layers[i].inputShape;
      if (out.length > 1 && inp.length > 1 && (out.length !== inp.length || out.some((d, k) => d !== inp[k]))) {
        throw new Error(
          `Sequential: ${layers[i - 1].name} outputs shape [${out.join(', ')}] but ${layers[i].name} expects [${inp.join(', ')}]`,
        );
      }
    }
    this.layers = [...layers];
    this.params = layers.flatMap((l) => l.params);
    this.state = layers.flatMap((l) => l.state);
  }

  get inputUnits(): number | undefined {
    return this.layers[0]?.inputUnits;
  }

  get outputUnits(): number | undefined {
    return this.layers[this.layers.length - 1]?.outputUnits;
  }

  /** Per-example input shape of the first layer. */
  get inputShape(): readonly number[] | undefined {
    return this.layers[0]?.inputShape;
  }

  /** Per-example output shape of the last layer. */
  get outputShape(): readonly number[] | undefined {
    return this.layers[this.layers.length - 1]?.outputShape;
  }

  /**
   * x: [batch, ...inputShape], or flat [batch, inputUnits]. The caller owns `y` and the traces;
   * `x` is not disposed. Intermediate outputs are. `condition` goes to every layer (see Layer.forward).
   */
  forward(x: tf.Tensor, training: boolean, condition?: tf.Tensor): SequentialForward {
    if (this.layers.length === 0) return { y: alias(x), trace: [] };
    const traces: Trace[] = [];
    let h: tf.Tensor = x;
    try {
      for (const layer of this.layers) {
        const out = layer.forward(h, training, condition);
        if (h !== x) h.dispose(); // the trace holds its own alias of h if needed
        h = out.y;
        traces.push(out.trace);
      }
    } catch (err) {
      if (h !== x) h.dispose();
      tf.dispose(traces);
      throw err;
    }
    return { y: h, trace: traces };
  }

  /**
   * Backward through all layers, last to first. Does not dispose `traces` nor `dy`.
   * dy: [batch, ...outputShape] or flat [batch, outputUnits].
   * grads: one per param, in `params` order; dx ([batch, ...inputShape]) only when needInputGrad.
   * `feedback[i]` (feedback alignment): the fixed matrix layer i carries its input gradient with.
   */
  backward(traces: Trace[], dy: tf.Tensor, needInputGrad: boolean, feedback?: readonly (tf.Tensor | null)[]): Backward {
    const n = this.layers.length;
    if (traces.length !== n) throw new Error(`Sequential: got ${traces.length} traces for ${n} layers`);
    if (n === 0) return { dx: needInputGrad ? alias(dy) : null, grads: [] };
    checkBatchOf(dy, this.layers[n - 1].outputShape, 'Sequential backward dy');
    const perLayer: tf.Tensor[][] = new Array(n);
    let g: tf.Tensor | null = dy;
    try {
      for (let i = n - 1; i >= 0; i--) {
        const need = i > 0 || needInputGrad;
        const out = this.layers[i].backward(traces[i], g!, need, feedback?.[i] ?? undefined);
        if (g !== dy) g!.dispose();
        g = null;
        perLayer[i] = out.grads;
        if (need) {
          if (!out.dx) throw new Error(`Sequential: ${this.layers[i].name} returned no input gradient`);
          g = out.dx;
        } else if (out.dx) {
          out.dx.dispose();
        }
      }
    } catch (err) {
      if (g && g !== dy) g.dispose();
      for (const grads of perLayer) if (grads) tf.dispose(grads);
      throw err;
    }
    return { dx: needInputGrad ? g : null, grads: perLayer.flat() };
  }

  /**
   * backward (with the input gradient) in two parts: dx now, the parameter gradients later from
   * `pending` (parameterGradients), so that dx can go on first. Layers that split their backward
   * pass (Layer.inputBackward) put off their parameter gradients; the others' are computed here and
   * wait in `pending`. The same values as backward. Does not dispose `traces` nor `dy`; the caller
   * owns dx and pending (dispose pending once parameterGradients has run, or instead of it).
   */
  inputBackward(traces: Trace[], dy: tf.Tensor, feedback?: readonly (tf.Tensor | null)[]): { dx: tf.Tensor; pending: tf.Tensor[][] } {
    const n = this.layers.length;
    if (traces.length !== n) throw new Error(`Sequential: got ${traces.length} traces for ${n} layers`);
    if (n === 0) return { dx: alias(dy), pending: [] };
    checkBatchOf(dy, this.layers[n - 1].outputShape, 'Sequential backward dy');
    const pending: tf.Tensor[][] = new Array(n);
    let g: tf.Tensor = dy;
    try {
      for (let i = n - 1; i >= 0; i--) {
        const layer = this.layers[i];
        const fb = feedback?.[i] ?? undefined;
        const out = layer.inputBackward ? layer.inputBackward(traces[i], g, fb) : split(layer.backward(traces[i], g, true, fb), layer.name);
        if (g !== dy) g.dispose();
        g = out.dx;
        pending[i] = out.pending;
      }
    } catch (err) {
      if (g !== dy) g.dispose();
      for (const p of pending) if (p) tf.dispose(p);
      throw err;
    }
    return { dx: g, pending };
  }

  /** The parameter gradients (in `params` order) from inputBackward's `pending`, which stays the caller's. */
  parameterGradients(traces: Trace[], pending: tf.Tensor[][]): tf.Tensor[] {
    const grads: tf.Tensor[] = [];
    try {
      this.layers.forEach((layer, i) => {
        // a layer without the split computed its gradients in inputBackward: new handles on them
        grads.push(...(layer.parameterGradients ? layer.parameterGradients(traces[i], pending[i]) : pending[i].map((t) => alias(t))));
      });
    } catch (err) {
      tf.dispose(grads);
      throw err;
    }
    return grads;
  }

  /** An evaluation pass starts: layers that carry state across batches start theirs from zero. */
  startEvaluation(): void {
    for (const layer of this.layers) layer.startEvaluation?.();
  }

  /** Disposes all variables (params and state). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const layer of this.layers) layer.dispose?.();
    for (const v of [...this.params, ...this.state]) v.dispose();
  }

  /** Copies of all values: params, then state. */
  getWeights(): Promise<Float32Array[]> {
    return readAll([...this.params, ...this.state]);
  }

  /** Sets params then state from values in the layout of getWeights (values are copied). */
  setWeights(values: Float32Array[]): void {
    const vars = [...this.params, ...this.state];
    if (values.length !== vars.length) {
      throw new Error(`Sequential.setWeights: got ${values.length} arrays for ${vars.length} variables`);
    }
    vars.forEach((v, i) => {
      if (values[i].length !== v.size) {
        throw new Error(`Sequential.setWeights: array ${i} has ${values[i].length} values, expected ${v.size}`);
      }
    });
    tf.tidy(() => {
      vars.forEach((v, i) => v.assign(tf.tensor(values[i].slice(), v.shape, 'float32')));
    });
  }
}

/** A whole backward pass as the parts of a split one: its gradients wait as `pending`. */
function split(back: Backward, name: string): InputBackward {
  if (!back.dx) {
    tf.dispose(back.grads);
    throw new Error(`Sequential: ${name} returned no input gradient`);
  }
  return { dx: back.dx, pending: back.grads };
}
