import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

/** What this module needs of tfjs-backend-wasm's BackendWasm (public methods and fields of 4.x). */
interface WasmBackendLike {
  getMemoryOffset(dataId: object): number;
  wasm: { asm: { memory: WebAssembly.Memory } };
}

function wasmBackend(): WasmBackendLike | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as Partial<WasmBackendLike>;
  return typeof backend.getMemoryOffset === 'function' && backend.wasm?.asm?.memory instanceof WebAssembly.Memory ? (backend as WasmBackendLike) : null;
}

/** Adam's element-wise update on data in the wasm backend's memory (see adam-kernel.wat). */
export type AdamUpdate = (p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, h: AdamHyper) => void;

/** b1, b2; c1 = 1 - b1, c2 = 1 - b2; lr the signed, bias-corrected step; eps the bias-corrected epsilon. */
export interface AdamHyper {
  b1: number;
  b2: number;
  c1: number;
  c2: number;
  lr: number;
  eps: number;
}

type AdamExport = (p: number, m: number, v: number, g: number, n: number, ...h: number[]) => void;

let binary: WebAssembly.Module | null | undefined;
const instances = new WeakMap<WebAssembly.Memory, AdamExport>();

/** The compiled kernel (built by scripts/build-wasm.ts next to this module), or null when it is missing. */
function kernelModule(): WebAssembly.Module | null {
  if (binary === undefined) {
    try {
      binary = new WebAssembly.Module(readFileSync(new URL('./adam-kernel.wasm', import.meta.url)));
    } catch {
      binary = null;
    }
  }
  return binary;
}

/**
 * Adam's update as one SIMD loop over the tensors' data in place, in the memory of the wasm
 * backend (the kernel imports that memory), or null on another backend or without the kernel.
 * All four tensors must be float32 of one size; p, m and v are written in place.
 */
export function adamUpdate(): AdamUpdate | null {
  const backend = wasmBackend();
  const module = backend && kernelModule();
  if (!backend || !module) return null;
  const memory = backend.wasm.asm.memory;
  let adam = instances.get(memory);
  if (!adam) {
    adam = new WebAssembly.Instance(module, { env: { memory } }).exports.adam as AdamExport;
    instances.set(memory, adam);
  }
  const run = adam;
  const at = (t: tf.Tensor) => backend.getMemoryOffset(t.dataId);
  return (p, m, v, g, h) => run(at(p), at(m), at(v), at(g), p.size, h.b1, h.b2, h.c1, h.c2, h.lr, h.eps);
}
