import { performance } from 'node:perf_hooks';
import { median } from './stats.js';

/** What one thread of a tfjs backend reaches on a plain matMul: the ceiling a stage could reach. */
export interface MatMulCeiling {
  backend: string;
  /** [m, k] @ [k, n] */
  m: number;
  k: number;
  n: number;
  /** 2·m·k·n */
  flops: number;
  warmup: number;
  reps: number;
  medianMs: number;
  minMs: number;
  /** flops / median time */
  gflops: number;
  /** wasm only: threads of the wasm backend (1: the single-threaded build) and SIMD support. */
  wasmThreads: number | null;
  wasmSimd: boolean | null;
}

export interface MatMulOptions {
  m?: number;
  k?: number;
  n?: number;
  warmup?: number;
  reps?: number;
}

/** Registers the wasm backend and makes it current in this thread. */
export async function useWasmBackend(): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') failed to initialise");
  await tf.ready();
}

/**
 * Times tf.matMul(a, b) of [m, k] @ [k, n] (default 256x784 @ 784x256, a batch through the first
 * dense layer) on the current backend of this thread: `warmup` untimed calls, then the median of
 * `reps` calls, each ended by dataSync so the time includes the work, not just its dispatch.
 */
export async function measureMatMulCeiling(options: MatMulOptions = {}): Promise<MatMulCeiling> {
  const { m = 256, k = 784, n = 256, warmup = 5, reps = 20 } = options;
  const tf = await import('@tensorflow/tfjs');
  await tf.ready();
  const a = tf.randomUniform([m, k], -1, 1, 'float32', 1) as import('@tensorflow/tfjs').Tensor2D;
  const b = tf.randomUniform([k, n], -1, 1, 'float32', 2) as import('@tensorflow/tfjs').Tensor2D;
  const once = () => {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const ms = performance.now() - t0;
    c.dispose();
    return ms;
  };
  try {
    for (let i = 0; i < warmup; i++) once();
    const times = Array.from({ length: reps }, once);
    const flops = 2 * m * k * n;
    const medianMs = median(times);
    const backend = tf.getBackend();
    const wasm = backend === 'wasm' ? await wasmInfo() : { threads: null, simd: null };
    return {
      backend, m, k, n, flops, warmup, reps, medianMs, minMs: Math.min(...times),
      gflops: flops / (medianMs / 1000) / 1e9,
      wasmThreads: wasm.threads,
      wasmSimd: wasm.simd,
    };
  } finally {
    tf.dispose([a, b]);
  }
}

async function wasmInfo(): Promise<{ threads: number | null; simd: boolean | null }> {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  let simd: boolean | null = null;
  try {
    simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  } catch {
    simd = null;
  }
  return { threads: wasm.getThreadsCount(), simd };
}

export function describeCeiling(c: MatMulCeiling): string {
  const wasm = c.wasmThreads === null ? '' : `, ${c.wasmThreads} thread${c.wasmThreads === 1 ? '' : 's'}${c.wasmSimd ? ', simd' : ''}`;
  return `${c.gflops.toFixed(1)} GFLOP/s (${c.m}x${c.k} @ ${c.k}x${c.n} matMul on ${c.backend}${wasm}, median of ${c.reps}: ${c.medianMs.toFixed(2)} ms)`;
}
