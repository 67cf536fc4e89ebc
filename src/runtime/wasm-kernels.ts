import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';

/**
 * synthgrad's own kernels for the wasm backend (src/runtime/kernels.wat, built into kernels.wasm
 * next to this module by scripts/build-wasm.ts). They run in the backend's own memory, which the
 * kernel module imports, on the tensors' data where it lives: no copies in or out.
 */

/** What this module needs of tfjs-backend-wasm's BackendWasm (public methods and fields of 4.x). */
interface WasmBackendLike {
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  wasm: { asm: { memory: WebAssembly.Memory } };
}

interface KernelExports {
  adam(p: number, m: number, v: number, g: number, n: number, b1: number, b2: number, c1: number, c2: number, lr: number, eps: number): void;
  column_sum(m: number, rows: number, cols: number, scale: number, out: number): void;
  transpose(x: number, rows: number, cols: number, out: number): void;
  all_finite(x: number, n: number): number;
  regression(y: number, t: number, u: number, n: number, k: number, scale: number, dy: number, stats: number): void;
  concat_columns(a: number, b: number, rows: number, ca: number, cb: number, out: number): void;
}

/** b1, b2; c1 = 1 - b1, c2 = 1 - b2; lr the signed, bias-corrected step; eps the bias-corrected epsilon. */
export interface AdamHyper {
  b1: number;
  b2: number;
  c1: number;
  c2: number;
  lr: number;
  eps: number;
}

/** Adam's element-wise update of p, m and v in place (all four float32 tensors of one size). */
export type AdamUpdate = (p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, h: AdamHyper) => void;

const COLUMN_SUM = 'SynthgradColumnSum';
const TRANSPOSE = 'SynthgradTranspose2D';
const REGRESSION = 'SynthgradRegression';
const CONCAT_COLUMNS = 'SynthgradConcatColumns';

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

/**
 * Adam's update as one SIMD loop over the tensors' data, or null on another backend or without
 * the kernels.
 */
export function adamUpdate(): AdamUpdate | null {
  const backend = wasmBackend();
  const kernels = kernelsOf(backend);
  if (!backend || !kernels) return null;
  return (p, m, v, g, h) =>
    kernels.adam(offset(backend, p), offset(backend, m), offset(backend, v), offset(backend, g), p.size, h.b1, h.b2, h.c1, h.c2, h.lr, h.eps);
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Registers the tfjs side of the kernels that make tensors, once, for the wasm backend. */
function registered(): boolean {
  if (tf.getKernel(COLUMN_SUM, 'wasm')) return true;
  tf.registerKernel({
    kernelName: COLUMN_SUM,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const wasm = backend as WasmBackendLike;
      const x = inputs.x as tf.TensorInfo;
      const [rows, cols] = x.shape;
      const out = wasm.makeOutput([1, cols], 'float32');
      kernelsOf(wasm)!.column_sum(offset(wasm, x), rows, cols, attrs!.scale as number, offset(wasm, out));
      return out;
    },
  });
  tf.registerKernel({
    kernelName: TRANSPOSE,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }: KernelArgs) => {
      const wasm = backend as WasmBackendLike;
      const x = inputs.x as tf.TensorInfo;
      const [rows, cols] = x.shape;
      const out = wasm.makeOutput([cols, rows], 'float32');
      kernelsOf(wasm)!.transpose(offset(wasm, x), rows, cols, offset(wasm, out));
      return out;
    },
  });
  tf.registerKernel({
    kernelName: REGRESSION,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const wasm = backend as WasmBackendLike;
      const [y, target, used] = [inputs.y, inputs.target, inputs.used] as tf.TensorInfo[];
      const dy = wasm.makeOutput(y.shape, 'float32');
      const stats = wasm.makeOutput([4], 'float32');
      const size = y.shape.reduce((a, b) => a * b, 1);
      const { k, scale } = attrs as { k: number; scale: number };
      kernelsOf(wasm)!.regression(offset(wasm, y), offset(wasm, target), offset(wasm, used), size, k, scale, offset(wasm, dy), offset(wasm, stats));
      return [dy, stats];
    },
  });
  tf.registerKernel({
    kernelName: CONCAT_COLUMNS,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }: KernelArgs) => {
      const wasm = backend as WasmBackendLike;
      const [a, b] = [inputs.a, inputs.b] as tf.TensorInfo[];
      const [rows, ca] = a.shape;
      const cb = b.shape[1];
      const out = wasm.makeOutput([rows, ca + cb], 'float32');
      kernelsOf(wasm)!.concat_columns(offset(wasm, a), offset(wasm, b), rows, ca, cb, offset(wasm, out));
      return out;
    },
  });
  return true;
}

/** True when the kernels below run on the active backend for this tensor. */
function ownKernels(m: tf.Tensor): boolean {
  return m.dtype === 'float32' && kernelsOf(wasmBackend()) !== null && registered();
}

/** scale · column sums of a float32 [rows, cols] matrix, as [1, cols]; null when the kernels are not available here. */
export function wasmColumnSum(m: tf.Tensor2D, scale: number): tf.Tensor2D | null {
  if (!ownKernels(m)) return null;
  return tf.engine().runKernel(COLUMN_SUM, { x: m }, { scale }) as tf.Tensor2D;
}

/** The transpose of a float32 [rows, cols] matrix; null when the kernels are not available here. */
export function wasmTranspose(m: tf.Tensor2D): tf.Tensor2D | null {
  if (!ownKernels(m)) return null;
  return tf.engine().runKernel(TRANSPOSE, { x: m }) as tf.Tensor2D;
}

/** Whether every value of the float32 tensors is finite (no NaN, no ±Inf); null when the kernels are not available here. */
export function wasmAllFinite(tensors: readonly tf.Tensor[]): boolean | null {
  const backend = wasmBackend();
  const kernels = kernelsOf(backend);
  if (!backend || !kernels || tensors.some((t) => t.dtype !== 'float32')) return null;
  return tensors.every((t) => kernels.all_finite(offset(backend, t), t.size) === 1);
}

/**
 * A helper net's regression on the wasm backend, in one pass: dy = scale·(y - k·target) and
 * [Σ (y - k·target)², Σ used·target, Σ used², Σ target²]; null when the kernels are not
 * available here. All three inputs are float32 of one shape.
 */
export function wasmRegression(y: tf.Tensor, target: tf.Tensor, used: tf.Tensor, k: number, scale: number): { dy: tf.Tensor; stats: tf.Tensor1D } | null {
  if (![y, target, used].every(ownKernels)) return null;
  const [dy, stats] = tf.engine().runKernel(REGRESSION, { y, target, used }, { k, scale }) as tf.Tensor[];
  return { dy, stats: stats as tf.Tensor1D };
}

/** [a b] for float32 matrices of the same number of rows; null when the kernels are not available here. */
export function wasmConcatColumns(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D | null {
  if (!ownKernels(a) || !ownKernels(b)) return null;
  return tf.engine().runKernel(CONCAT_COLUMNS, { a, b }) as tf.Tensor2D;
}
