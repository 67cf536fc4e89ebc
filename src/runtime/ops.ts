import * as tf from '@tensorflow/tfjs-core';
import { portableOps, type BackendOps } from './portable-ops.js';
import { wasmOps } from './wasm-kernels.js';

export type { AdamHyper, BackendOps, BatchNormForward, BatchNormBackward } from './portable-ops.js';

/**
 * Backends with operations of their own (see BackendOps): a function that returns them, or null
 * where they cannot run (e.g. kernels.wasm missing). Every other backend runs the portable ops,
 * built from tfjs ops. Model and stage code call `ops().name(...)` the same way on every backend;
 * a stage on webgpu never reaches a wasm kernel.
 */
const implementations: Record<string, () => BackendOps | null> = {
  wasm: wasmOps,
};

/** The operations of the active backend. */
export function ops(): BackendOps {
  return implementations[tf.getBackend()]?.() ?? portableOps;
}
