/**
 * Mini-batches: shuffling, gathering examples into fresh float arrays, and
 * iteration over an epoch.
 */
import type { Split } from './mnist.js';

/**
 * A mini-batch: `x` holds size*features floats in [0,1] (features = rows*cols*channels, each
 * example in the split's HWC order), `labels` size digits.
 */
export interface Batch {
  x: Float32Array;
  labels: Uint8Array;
  size: number;
}

/** BYTE_TO_UNIT[b] = b / 255 as a float32. */
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, b) => b / 255);

const MAX_INDEX_COUNT = 2 ** 32;

/**
 * The indices 0..count-1 in a random order (Fisher-Yates), drawn from `rng`,
 * which returns floats in [0, 1). The same rng state gives the same order.
 */
export function shuffledIndices(count: number, rng: () => number): Uint32Array {
  if (!Number.isInteger(count) || count < 0 || count > MAX_INDEX_COUNT) {
    throw new RangeError(`count must be an integer from 0 to 2^32, got ${count}`);
  }
  const indices = new Uint32Array(count);
  for (let i = 0; i < count; i++) indices[i] = i;
  for (let i = count - 1; i > 0; i--) {
    // Math.min guards against an rng that returns exactly 1.
    const j = Math.min(Math.floor(rng() * (i + 1)), i);
    const tmp = indices[i]!;
    indices[i] = indices[j]!;
    indices[j] = tmp;
  }
  return indices;
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  }
}

/**
 * Gathers the examples indices[start .. start+size) of `split` into a new
 * batch (fewer when indices end first). The arrays are freshly allocated and
 * own their buffers, so they can be transferred to another thread.
 */
export function makeBatch(split: Split, indices: ArrayLike<number>, start: number, size: number): Batch {
  checkBatchSize(size);
  if (!Number.isInteger(start) || start < 0 || start >= indices.length) {
    throw new RangeError(`batch start must be an integer from 0 to ${indices.length - 1}, got ${start}`);
  }
  const count = Math.min(size, indices.length - start);
  const features = split.rows * split.cols * (split.channels ?? 1);
  const { images } = split;
  const x = new Float32Array(count * features);
  const labels = new Uint8Array(count);

  for (let b = 0; b < count; b++) {
    const example = indices[start + b]!;
    if (!Number.isInteger(example) || example < 0 || example >= split.count) {
      throw new RangeError(`index ${example} at position ${start + b} is outside the split of ${split.count} examples`);
    }
    labels[b] = split.labels[example]!;
    const from = example * features;
    const to = b * features;
    for (let k = 0; k < features; k++) x[to + k] = BYTE_TO_UNIT[images[from + k]!]!;
  }
  return { x, labels, size: count };
}

/** Number of batches of `batchSize` in `count` examples; dropLast drops a final partial batch. */
export function batchCount(count: number, batchSize: number, dropLast: boolean): number {
  checkBatchSize(batchSize);
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`example count must be a non-negative integer, got ${count}`);
  }
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/** One epoch over `split` in a fresh shuffled order drawn from `rng`. */
export function* epochBatches(
  split: Split,
  batchSize: number,
  rng: () => number,
  dropLast = true,
): Generator<Batch> {
  const batches = batchCount(split.count, batchSize, dropLast);
  const order = shuffledIndices(split.count, rng);
  for (let b = 0; b < batches; b++) yield makeBatch(split, order, b * batchSize, batchSize);
}

/** The whole split in its stored order, including a final partial batch (for evaluation). */
export function* sequentialBatches(split: Split, batchSize: number): Generator<Batch> {
  const batches = batchCount(split.count, batchSize, false);
  const order = new Uint32Array(split.count);
  for (let i = 0; i < order.length; i++) order[i] = i;
  for (let b = 0; b < batches; b++) yield makeBatch(split, order, b * batchSize, batchSize);
}
