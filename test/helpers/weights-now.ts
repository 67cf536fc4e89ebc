import type { Sequential } from '../../src/model/index.js';

/** A net's values (params, then state) read synchronously: for tests on cpu or wasm, where that works. */
export function weightsNow(net: Sequential): Float32Array[] {
  return [...net.params, ...net.state].map((v) => new Float32Array(v.dataSync()));
}
