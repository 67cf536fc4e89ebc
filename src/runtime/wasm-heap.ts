import * as tf from '@tensorflow/tfjs';

/** What this module needs of tfjs-backend-wasm's BackendWasm (public methods and fields of 4.x). */
interface WasmBackendLike {
  getMemoryOffset(dataId: object): number;
  wasm: { HEAPU8: Uint8Array };
}

function wasmBackend(): WasmBackendLike | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as Partial<WasmBackendLike>;
  return typeof backend.getMemoryOffset === 'function' && backend.wasm?.HEAPU8 ? (backend as WasmBackendLike) : null;
}

/**
 * Float32 views on the tensors' data where it lives, in the wasm backend's heap, or null on any
 * other backend (or for a tensor that is not float32). Writing through a view changes the tensor
 * in place, and every tensor that shares its data (tf.reshape aliases): use it only on data this
 * code owns. The views are valid until the next tfjs call (one may grow the heap and move it), so
 * take them, use them, drop them.
 */
export function heapViews(tensors: readonly tf.Tensor[]): Float32Array[] | null {
  const backend = wasmBackend();
  if (!backend || tensors.some((t) => t.dtype !== 'float32' || t.isDisposed)) return null;
  const heap = backend.wasm.HEAPU8.buffer;
  return tensors.map((t) => new Float32Array(heap, backend.getMemoryOffset(t.dataId), t.size));
}
