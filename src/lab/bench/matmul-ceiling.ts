import { performance } from 'node:perf_hooks';
import { median } from './stats.js';
import type { ConvShape } from './flops.js';

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
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') failed to initialise");
  await tf.ready();
}

/** One timed matMul at a time, for measurements interleaved with other work. */
export interface MatMulTimer {
  m: number;
  k: number;
  n: number;
  /** 2·m·k·n */
  flops: number;
  /** Milliseconds of one tf.matMul(a, b), its corner read (asynchronously: webgpu has no synchronous read in Node). */
  once(): Promise<number>;
  dispose(): void;
}

/**
 * A timer of tf.matMul(a, b) of [m, k] @ [k, n] (default 256x784 @ 784x256, a batch through the
 * first dense layer) on the current backend of this thread. Each call ends by reading one element
 * of the product, so the time includes the work on a backend that computes lazily, but not the
 * allocation and copy of a whole result that no stage step pays for its matMuls.
 */
export async function matMulTimer(options: MatMulOptions = {}): Promise<MatMulTimer> {
  const { m = 256, k = 784, n = 256 } = options;
  const tf = await import('@tensorflow/tfjs-core');
  await tf.ready();
  const a = tf.randomUniform([m, k], -1, 1, 'float32', 1) as import('@tensorflow/tfjs-core').Tensor2D;
  const b = tf.randomUniform([k, n], -1, 1, 'float32', 2) as import('@tensorflow/tfjs-core').Tensor2D;
  return {
    m, k, n,
    flops: 2 * m * k * n,
    async once() {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      const corner = tf.slice(c, [0, 0], [1, 1]);
      await corner.data();
      const ms = performance.now() - t0;
      tf.dispose([c, corner]);
      return ms;
    },
    dispose: () => tf.dispose([a, b]),
  };
}

/**
 * A timer of the backend's own conv2d forward on `shape` (a batch of `batch` examples): the conv
 * ceiling beside a stage with conv layers. m, k, n describe it as the matMul it amounts to
 * (im2col): [batch·Ho·Wo, k²·C] @ [k²·C, F].
 */
export async function convTimer(shape: ConvShape, batch: number): Promise<MatMulTimer> {
  const tf = await import('@tensorflow/tfjs-core');
  await tf.ready();
  const [h, w, c] = shape.inputShape;
  const { kernelSize: k, filters: f, stride, padding } = shape;
  const x = tf.randomUniform([batch, h, w, c], -1, 1, 'float32', 1) as import('@tensorflow/tfjs-core').Tensor4D;
  const filter = tf.randomUniform([k, k, c, f], -1, 1, 'float32', 2) as import('@tensorflow/tfjs-core').Tensor4D;
  const flops = batch * shape.flops;
  return {
    m: flops / (2 * k * k * c * f),
    k: k * k * c,
    n: f,
    flops,
    async once() {
      const t0 = performance.now();
      const y = tf.conv2d(x, filter, stride, padding);
      const corner = tf.slice(y, [0, 0, 0, 0], [1, 1, 1, 1]);
      await corner.data();
      const ms = performance.now() - t0;
      tf.dispose([y, corner]);
      return ms;
    },
    dispose: () => tf.dispose([x, filter]),
  };
}

/** The matMul ceiling from the median of `times` (milliseconds of one timer.once() each). */
export async function ceilingOf(timer: MatMulTimer, times: number[], warmup: number): Promise<MatMulCeiling> {
  const tf = await import('@tensorflow/tfjs-core');
  const medianMs = median(times);
  const backend = tf.getBackend();
  const wasm = backend === 'wasm' ? await wasmInfo() : { threads: null, simd: null };
  return {
    backend, m: timer.m, k: timer.k, n: timer.n, flops: timer.flops, warmup, reps: times.length, medianMs,
    minMs: Math.min(...times),
    gflops: timer.flops / (medianMs / 1000) / 1e9,
    wasmThreads: wasm.threads,
    wasmSimd: wasm.simd,
  };
}

/** `warmup` untimed matMuls, then the median of `reps` timed ones: the single-thread ceiling. */
export async function measureMatMulCeiling(options: MatMulOptions = {}): Promise<MatMulCeiling> {
  return measureCeiling(await matMulTimer(options), options);
}

/** `warmup` untimed runs of the timer's work, then the median of `reps` timed ones; disposes the timer. */
export async function measureCeiling(timer: MatMulTimer, options: { warmup?: number; reps?: number } = {}): Promise<MatMulCeiling> {
  const { warmup = 5, reps = 20 } = options;
  try {
    for (let i = 0; i < warmup; i++) await timer.once();
    const times: number[] = [];
    for (let i = 0; i < reps; i++) times.push(await timer.once());
    return await ceilingOf(timer, times, warmup);
  } finally {
    timer.dispose();
  }
}

async function wasmInfo(): Promise<{ threads: number | null; simd: boolean | null }> {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  let simd: boolean | null = null;
  try {
    simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  } catch {
    simd = null;
  }
  return { threads: wasm.getThreadsCount(), simd };
}

/** The ceiling in words; `conv`: it was a convTimer's, of that layer and batch. */
export function describeCeiling(c: MatMulCeiling, conv?: { shape: ConvShape; batch: number }): string {
  const wasm = c.wasmThreads === null ? '' : `, ${c.wasmThreads} thread${c.wasmThreads === 1 ? '' : 's'}${c.wasmSimd ? ', simd' : ''}`;
  const what = conv
    ? `conv2d ${conv.shape.kernelSize}x${conv.shape.kernelSize}${conv.shape.stride > 1 ? `/${conv.shape.stride}` : ''} ${conv.shape.padding} of [${conv.batch}, ${conv.shape.inputShape.join(', ')}] to ${conv.shape.filters} filters`
    : `${c.m}x${c.k} @ ${c.k}x${c.n} matMul`;
  return `${c.gflops.toFixed(1)} GFLOP/s (${what} on ${c.backend}${wasm}, median of ${c.reps}: ${c.medianMs.toFixed(2)} ms)`;
}
