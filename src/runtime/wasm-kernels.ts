import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { portableOps, type BackendOps } from './portable-ops.js';

/**
 * synthgrad's own kernels for the wasm backend (src/runtime/kernels.wat, built into kernels.wasm
 * next to this module by scripts/build-wasm.ts). They run in the backend's own memory, which the
 * kernel module imports, on the tensors' data where it lives: no copies in or out. They are the wasm
 * backend's implementation of the operations in ./ops.ts; the kernels that make tensors are
 * registered in tfjs's kernel registry for the wasm backend.
 */

/** What this module needs of tfjs-backend-wasm's BackendWasm (public methods and fields of 4.x). */
interface WasmBackendLike {
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  wasm: { asm: { memory: WebAssembly.Memory } };
}

interface KernelExports {
  adam(p: number, q: number, m: number, v: number, g: number, n: number, b1: number, b2: number, c1: number, c2: number, lr: number, eps: number): void;
  column_sum(m: number, rows: number, cols: number, scale: number, out: number): void;
  transpose(x: number, rows: number, cols: number, out: number): void;
  all_finite(x: number, n: number): number;
  regression(y: number, t: number, u: number, n: number, k: number, scale: number, dy: number, stats: number): void;
  concat_columns(a: number, b: number, rows: number, ca: number, cb: number, out: number): void;
  batchnorm_forward(x: number, rows: number, n: number, gamma: number, beta: number, eps: number, relu: number, y: number, xhat: number, mean: number, variance: number, inv: number, scale: number): void;
  maxpool_backward(x: number, y: number, dy: number, b: number, h: number, w: number, c: number, ho: number, wo: number, p: number, s: number, top: number, left: number, dx: number): void;
  im2col_t(x: number, b: number, h: number, w: number, c: number, k: number, s: number, top: number, left: number, ho: number, wo: number, out: number): void;
  filter_gradient(x: number, dz: number, b: number, h: number, w: number, c: number, k: number, s: number, top: number, left: number, ho: number, wo: number, f: number, out: number): void;
  batchnorm_backward(dy: number, xhat: number, y: number, scale: number, rows: number, n: number, dgamma: number, dbeta: number, dx: number, mterm: number, xterm: number): void;
}

const COLUMN_SUM = 'SynthgradColumnSum';
const TRANSPOSE = 'SynthgradTranspose2D';
const ADAM = 'SynthgradAdam';
const REGRESSION = 'SynthgradRegression';
const CONCAT_COLUMNS = 'SynthgradConcatColumns';
const BATCHNORM_FORWARD = 'SynthgradBatchNormForward';
const BATCHNORM_BACKWARD = 'SynthgradBatchNormBackward';
const MAXPOOL_BACKWARD = 'SynthgradMaxPoolBackward';
const IM2COL_T = 'SynthgradIm2ColT';
const FILTER_GRADIENT = 'SynthgradFilterGradient';

let compiled: WebAssembly.Module | null | undefined;
const instances = new WeakMap<WebAssembly.Memory, KernelExports>();

function wasmBackend(): WasmBackendLike | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as Partial<WasmBackendLike>;
  const usable = typeof backend.getMemoryOffset === 'function' && typeof backend.makeOutput === 'function' && backend.wasm?.asm?.memory instanceof WebAssembly.Memory;
  return usable ? (backend as WasmBackendLike) : null;
}

/** The kernels bound to this backend's memory, or null (another backend, or kernels.wasm missing). */
function kernelsOf(backend: WasmBackendLike | null): KernelExports | null {
  if (!backend) return null;
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(readFileSync(new URL('./kernels.wasm', import.meta.url)));
    } catch {
      compiled = null;
    }
  }
  if (!compiled) return null;
  const memory = backend.wasm.asm.memory;
  let kernels = instances.get(memory);
  if (!kernels) {
    kernels = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as KernelExports;
    instances.set(memory, kernels);
  }
  return kernels;
}

const offset = (backend: WasmBackendLike, t: tf.TensorInfo) => backend.getMemoryOffset(t.dataId);

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Registers a kernel of the wasm backend whose function gets the backend as `wasm`. */
function wasmKernel(name: string, run: (args: { inputs: tf.NamedTensorInfoMap; wasm: WasmBackendLike; attrs?: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[]): void {
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => run({ inputs, wasm: backend as WasmBackendLike, attrs }) });
}

/** Registers the tfjs side of the kernels that make tensors, once, for the wasm backend. */
function registered(): boolean {
  if (tf.getKernel(COLUMN_SUM, 'wasm')) return true;
  wasmKernel(COLUMN_SUM, ({ inputs, wasm, attrs }) => {
    const x = inputs.x as tf.TensorInfo;
    const [rows, cols] = x.shape;
    const out = wasm.makeOutput([1, cols], 'float32');
    kernelsOf(wasm)!.column_sum(offset(wasm, x), rows, cols, attrs!.scale as number, offset(wasm, out));
    return out;
  });
  wasmKernel(ADAM, ({ inputs, wasm, attrs }) => {
    const [p, m, v, g] = [inputs.p, inputs.m, inputs.v, inputs.g] as tf.TensorInfo[];
    const { b1, b2, c1, c2, lr, eps } = attrs as Record<'b1' | 'b2' | 'c1' | 'c2' | 'lr' | 'eps', number>;
    const next = wasm.makeOutput(p.shape, 'float32');
    const at = (t: tf.TensorInfo) => offset(wasm, t);
    // m and v in place; the new parameter into `next`
    kernelsOf(wasm)!.adam(at(p), at(next), at(m), at(v), at(g), p.shape.reduce((a, b) => a * b, 1), b1, b2, c1, c2, lr, eps);
    return next;
  });
  wasmKernel(TRANSPOSE, ({ inputs, wasm }) => {
    const x = inputs.x as tf.TensorInfo;
    const [rows, cols] = x.shape;
    const out = wasm.makeOutput([cols, rows], 'float32');
    kernelsOf(wasm)!.transpose(offset(wasm, x), rows, cols, offset(wasm, out));
    return out;
  });
  wasmKernel(REGRESSION, ({ inputs, wasm, attrs }) => {
    const [y, target, used] = [inputs.y, inputs.target, inputs.used] as tf.TensorInfo[];
    const dy = wasm.makeOutput(y.shape, 'float32');
    const stats = wasm.makeOutput([4], 'float32');
    const size = y.shape.reduce((a, b) => a * b, 1);
    const { k, scale } = attrs as { k: number; scale: number };
    kernelsOf(wasm)!.regression(offset(wasm, y), offset(wasm, target), offset(wasm, used), size, k, scale, offset(wasm, dy), offset(wasm, stats));
    return [dy, stats];
  });
  wasmKernel(CONCAT_COLUMNS, ({ inputs, wasm }) => {
    const [a, b] = [inputs.a, inputs.b] as tf.TensorInfo[];
    const [rows, ca] = a.shape;
    const cb = b.shape[1];
    const out = wasm.makeOutput([rows, ca + cb], 'float32');
    kernelsOf(wasm)!.concat_columns(offset(wasm, a), offset(wasm, b), rows, ca, cb, offset(wasm, out));
    return out;
  });
  wasmKernel(BATCHNORM_FORWARD, ({ inputs, wasm, attrs }) => {
    const [x, gamma, beta] = [inputs.x, inputs.gamma, inputs.beta] as tf.TensorInfo[];
    const [rows, n] = x.shape;
    const [y, xhat] = [wasm.makeOutput([rows, n], 'float32'), wasm.makeOutput([rows, n], 'float32')];
    const [mean, variance, inv, scale] = [0, 1, 2, 3].map(() => wasm.makeOutput([1, n], 'float32'));
    const { eps, relu } = attrs as { eps: number; relu: boolean };
    const at = (t: tf.TensorInfo) => offset(wasm, t);
    kernelsOf(wasm)!.batchnorm_forward(at(x), rows, n, at(gamma), at(beta), eps, relu ? 1 : 0, at(y), at(xhat), at(mean), at(variance), at(inv), at(scale));
    return [y, xhat, mean, variance, inv, scale];
  });
  wasmKernel(BATCHNORM_BACKWARD, ({ inputs, wasm, attrs }) => {
    const [dy, xhat, scale] = [inputs.dy, inputs.xhat, inputs.scale] as tf.TensorInfo[];
    const y = (inputs.y as tf.TensorInfo | undefined) ?? null;
    const [rows, n] = dy.shape;
    const [dgamma, dbeta, mterm, xterm] = [0, 1, 2, 3].map(() => wasm.makeOutput([n], 'float32'));
    const dx = (attrs as { needDx: boolean }).needDx ? wasm.makeOutput([rows, n], 'float32') : null;
    const at = (t: tf.TensorInfo) => offset(wasm, t);
    kernelsOf(wasm)!.batchnorm_backward(at(dy), at(xhat), y ? at(y) : 0, at(scale), rows, n, at(dgamma), at(dbeta), dx ? at(dx) : 0, at(mterm), at(xterm));
    return dx ? [dgamma, dbeta, mterm, xterm, dx] : [dgamma, dbeta, mterm, xterm];
  });
  wasmKernel(MAXPOOL_BACKWARD, ({ inputs, wasm, attrs }) => {
    const [x, y, dy] = [inputs.x, inputs.y, inputs.dy] as tf.TensorInfo[];
    const [b, h, w, c] = x.shape;
    const [, ho, wo] = y.shape;
    const { p, s, top, left } = attrs as { p: number; s: number; top: number; left: number };
    const dx = wasm.makeOutput(x.shape, 'float32');
    kernelsOf(wasm)!.maxpool_backward(offset(wasm, x), offset(wasm, y), offset(wasm, dy), b, h, w, c, ho, wo, p, s, top, left, offset(wasm, dx));
    return dx;
  });
  wasmKernel(IM2COL_T, ({ inputs, wasm, attrs }) => {
    const x = inputs.x as tf.TensorInfo;
    const [, h, w, c] = x.shape;
    const { k, s, top, left, ho, wo, first, count } = attrs as Record<'k' | 's' | 'top' | 'left' | 'ho' | 'wo' | 'first' | 'count', number>;
    const out = wasm.makeOutput([k * k * c, count * ho * wo], 'float32');
    // examples first .. first + count - 1: x from example `first` on, as a batch of `count`
    kernelsOf(wasm)!.im2col_t(offset(wasm, x) + first * h * w * c * 4, count, h, w, c, k, s, top, left, ho, wo, offset(wasm, out));
    return out;
  });
  wasmKernel(FILTER_GRADIENT, ({ inputs, wasm, attrs }) => {
    const [x, dz] = [inputs.x, inputs.dz] as tf.TensorInfo[];
    const [b, h, w, c] = x.shape;
    const [, ho, wo, f] = dz.shape;
    const { k, s, top, left } = attrs as Record<'k' | 's' | 'top' | 'left', number>;
    const out = wasm.makeOutput([k, k, c, f], 'float32');
    kernelsOf(wasm)!.filter_gradient(offset(wasm, x), offset(wasm, dz), b, h, w, c, k, s, top, left, ho, wo, f, offset(wasm, out));
    return out;
  });
  return true;
}

const float32 = (...tensors: readonly tf.Tensor[]) => tensors.every((t) => t.dtype === 'float32');
const ops = new WeakMap<WebAssembly.Memory, BackendOps>();

/**
 * The wasm backend's operations, bound to its memory; null on another backend or without
 * kernels.wasm. Tensors of another dtype than float32 take the portable ops.
 */
export function wasmOps(): BackendOps | null {
  const backend = wasmBackend();
  const kernels = kernelsOf(backend);
  if (!backend || !kernels || !registered()) return null;
  const memory = backend.wasm.asm.memory;
  let bound = ops.get(memory);
  if (!bound) {
    bound = bind(backend, kernels);
    ops.set(memory, bound);
  }
  return bound;
}

function bind(backend: WasmBackendLike, kernels: KernelExports): BackendOps {
  const at = (t: tf.TensorInfo) => offset(backend, t);
  return {
    columnSum: (m, scale) => (float32(m) ? (tf.engine().runKernel(COLUMN_SUM, { x: m }, { scale }) as tf.Tensor2D) : portableOps.columnSum(m, scale)),
    transpose2d: (m) => (float32(m) ? (tf.engine().runKernel(TRANSPOSE, { x: m }) as tf.Tensor2D) : portableOps.transpose2d(m)),
    packsSecondOperand: true,
    concatColumns: (a, b) => (float32(a, b) ? (tf.engine().runKernel(CONCAT_COLUMNS, { a, b }) as tf.Tensor2D) : portableOps.concatColumns(a, b)),
    regression(y, target, used, k, scale) {
      if (!float32(y, target, used)) return portableOps.regression(y, target, used, k, scale);
      const [dy, stats] = tf.engine().runKernel(REGRESSION, { y, target, used }, { k, scale }) as tf.Tensor[];
      return { dy, stats: stats as tf.Tensor1D };
    },
    maxPoolBackward: (x, y, dy, p, s, top, left) =>
      float32(x, y, dy) ? (tf.engine().runKernel(MAXPOOL_BACKWARD, { x, y, dy }, { p, s, top, left }) as tf.Tensor4D) : null,
    im2colT: (x, k, s, top, left, ho, wo, examples) => {
      if (!float32(x)) return null;
      const [first, count] = examples ?? [0, x.shape[0]];
      if (!(Number.isInteger(first) && Number.isInteger(count) && first >= 0 && count > 0 && first + count <= x.shape[0])) {
        throw new Error(`im2colT: examples [${first}, ${count}] are not a range of the batch of ${x.shape[0]}`);
      }
      return tf.engine().runKernel(IM2COL_T, { x }, { k, s, top, left, ho, wo, first, count }) as tf.Tensor2D;
    },
    filterGradient: (x, dz, k, s, top, left) => {
      if (!float32(x, dz) || dz.shape[3] % 4 !== 0 || x.shape[0] !== dz.shape[0]) return null;
      return tf.engine().runKernel(FILTER_GRADIENT, { x, dz }, { k, s, top, left }) as tf.Tensor4D;
    },
    batchNormForward(m, gamma, beta, eps, relu) {
      if (!float32(m, gamma, beta)) return portableOps.batchNormForward(m, gamma, beta, eps, relu);
      const [y, xhat, mean, variance, inv, scale] = tf.engine().runKernel(BATCHNORM_FORWARD, { x: m, gamma, beta }, { eps, relu }) as tf.Tensor2D[];
      inv.dispose();
      return { y, xhat, mean, variance, scale };
    },
    batchNormBackward(dy, xhat, y, scale, needDx) {
      if (!float32(dy, xhat, scale, ...(y ? [y] : []))) return portableOps.batchNormBackward(dy, xhat, y, scale, needDx);
      const inputs: tf.NamedTensorMap = y ? { dy, xhat, y, scale } : { dy, xhat, scale };
      const [dgamma, dbeta, mterm, xterm, dx] = tf.engine().runKernel(BATCHNORM_BACKWARD, inputs, { needDx }) as tf.Tensor[];
      mterm.dispose();
      xterm.dispose();
      return { dgamma: dgamma as tf.Tensor1D, dbeta: dbeta as tf.Tensor1D, dx: (dx as tf.Tensor2D | undefined) ?? null };
    },
    /**
     * One SIMD loop over the data. The moments are updated in place. The parameter is not: the
     * backend caches packed copies of matMul weights by tensor, so the new parameter goes to a new
     * tensor (written by the loop, not copied first) and the variable is assigned it.
     */
    adamUpdate(p, m, v, g, h) {
      if (!float32(p, m, v, g)) return portableOps.adamUpdate(p, m, v, g, h);
      const { b1, b2, c1, c2, lr, eps } = h;
      const next = tf.engine().runKernel(ADAM, { p, m, v, g }, { b1, b2, c1, c2, lr, eps }) as tf.Tensor;
      p.assign(next);
      next.dispose();
    },
    allFinite: async (tensors) => (float32(...tensors) ? tensors.every((t) => kernels.all_finite(at(t), t.size) === 1) : portableOps.allFinite(tensors)),
    // the tensor itself, in one SIMD pass, rather than a scan of the copy
    finiteData: (t, values) => (float32(t) ? kernels.all_finite(at(t), t.size) === 1 : portableOps.finiteData(t, values)),
  };
}
