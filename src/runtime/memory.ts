import { getHeapStatistics } from 'node:v8';
import * as tf from '@tensorflow/tfjs-core';

/** Memory as one stage sees it. */
export interface StageMemory {
  /** Resident set of the process: with worker threads all stages share it; a stage process has its own. */
  rssBytes: number;
  /** Tensors alive in this thread's tfjs engine, and their bytes: a leak shows as steady growth. */
  tensors: number;
  tensorBytes: number;
  /** Size of the wasm backend's heap (it only grows); null on other backends. */
  wasmHeapBytes: number | null;
  /** Bytes in use in this thread's JavaScript heap (V8 isolate), garbage not yet collected included. */
  jsHeapBytes?: number;
}

export function stageMemory(): StageMemory {
  const { numTensors, numBytes } = tf.memory();
  const backend = tf.getBackend() === 'wasm' ? (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }) : null;
  return {
    rssBytes: process.memoryUsage.rss(),
    tensors: numTensors,
    tensorBytes: numBytes,
    wasmHeapBytes: backend?.wasm?.HEAPU8?.byteLength ?? null,
    jsHeapBytes: getHeapStatistics().used_heap_size,
  };
}
