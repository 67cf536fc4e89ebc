import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import { batchCount, epochBatches, makeBatch, sequentialBatches, shuffledIndices, type Batch } from '../src/data/batches.js';
import type { Split } from '../src/data/mnist.js';

const FEATURES = 4;

/** A split whose example i has pixels 4i..4i+3 and label i % 10 (count <= 64). */
function syntheticSplit(count: number): Split {
  const images = Uint8Array.from({ length: count * FEATURES }, (_, k) => k);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return { images, labels, count, rows: 2, cols: 2 };
}

/** The example ids in a batch of a syntheticSplit, read back from the pixels. */
function exampleIds(batch: Batch): number[] {
  return Array.from({ length: batch.size }, (_, b) => Math.round(batch.x[b * FEATURES]! * 255) / FEATURES);
}

function isPermutation(values: ArrayLike<number>, count: number): boolean {
  const sorted = Array.from(values).sort((a, b) => a - b);
  return sorted.length === count && sorted.every((v, i) => v === i);
}

describe('shuffledIndices', () => {
  it('returns a permutation of 0..count-1', () => {
    const indices = shuffledIndices(1000, seedrandom('x'));
    assert.ok(indices instanceof Uint32Array);
    assert.ok(isPermutation(indices, 1000));
    assert.notDeepEqual(Array.from(indices), Array.from({ length: 1000 }, (_, i) => i), 'should actually shuffle');
  });

  it('is reproducible for a seed and differs between seeds', () => {
    const a = shuffledIndices(500, seedrandom('x'));
    const b = shuffledIndices(500, seedrandom('x'));
    const c = shuffledIndices(500, seedrandom('y'));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('handles 0 and 1 elements', () => {
    assert.equal(shuffledIndices(0, seedrandom('x')).length, 0);
    assert.deepEqual(Array.from(shuffledIndices(1, seedrandom('x'))), [0]);
  });

  it('stays in range when the rng returns its extremes', () => {
    assert.ok(isPermutation(shuffledIndices(20, () => 0), 20));
    assert.ok(isPermutation(shuffledIndices(20, () => 1), 20));
  });

  it('rejects an invalid count', () => {
    assert.throws(() => shuffledIndices(-1, Math.random), RangeError);
    assert.throws(() => shuffledIndices(2.5, Math.random), RangeError);
  });
});

describe('makeBatch', () => {
  it('gathers the indexed examples scaled to [0,1]', () => {
    const split = syntheticSplit(10);
    split.images[7 * FEATURES + 3] = 255;
    const batch = makeBatch(split, [9, 3, 7, 0], 1, 2);
    assert.equal(batch.size, 2);
    assert.equal(batch.x.length, 2 * FEATURES);
    assert.deepEqual(Array.from(batch.labels), [3, 7]);
    const expected = [12, 13, 14, 15, 28, 29, 30, 255].map((b) => Math.fround(b / 255));
    assert.deepEqual(Array.from(batch.x), expected);
    assert.equal(batch.x[7], 1);
    assert.ok(batch.x.every((v) => v >= 0 && v <= 1));
  });

  it('cuts the batch at the end of the indices', () => {
    const split = syntheticSplit(10);
    const batch = makeBatch(split, [5, 6, 8], 1, 4);
    assert.equal(batch.size, 2);
    assert.equal(batch.x.length, 2 * FEATURES);
    assert.deepEqual(exampleIds(batch), [6, 8]);
    assert.deepEqual(Array.from(batch.labels), [6, 8]);
  });

  it('allocates fresh arrays that own their whole buffers', () => {
    const split = syntheticSplit(10);
    const batch = makeBatch(split, [1, 2], 0, 2);
    assert.notEqual(batch.labels.buffer, split.labels.buffer);
    assert.equal(batch.x.byteOffset, 0);
    assert.equal(batch.x.buffer.byteLength, batch.x.byteLength);
    assert.equal(batch.labels.byteOffset, 0);
    assert.equal(batch.labels.buffer.byteLength, batch.labels.byteLength);
  });

  it('rejects bad arguments', () => {
    const split = syntheticSplit(4);
    assert.throws(() => makeBatch(split, [0, 1], 2, 1), RangeError);
    assert.throws(() => makeBatch(split, [0, 1], 0, 0), RangeError);
    assert.throws(() => makeBatch(split, [0, 4], 0, 2), /index 4 at position 1 is outside the split of 4 examples/);
  });
});

describe('batchCount', () => {
  it('rounds down when dropping the last partial batch, up otherwise', () => {
    assert.equal(batchCount(10, 3, true), 3);
    assert.equal(batchCount(10, 3, false), 4);
    assert.equal(batchCount(9, 3, true), 3);
    assert.equal(batchCount(9, 3, false), 3);
    assert.equal(batchCount(2, 3, true), 0);
    assert.equal(batchCount(0, 3, false), 0);
    assert.throws(() => batchCount(10, 0, true), RangeError);
  });
});

describe('epochBatches', () => {
  it('drops the last partial batch by default', () => {
    const batches = [...epochBatches(syntheticSplit(10), 3, seedrandom('x'))];
    assert.equal(batches.length, 3);
    assert.ok(batches.every((b) => b.size === 3));
    const ids = batches.flatMap(exampleIds);
    assert.equal(new Set(ids).size, 9, 'no example twice');
  });

  it('keeps the last partial batch with dropLast false, covering every example once', () => {
    const batches = [...epochBatches(syntheticSplit(10), 3, seedrandom('x'), false)];
    assert.deepEqual(
      batches.map((b) => b.size),
      [3, 3, 3, 1],
    );
    assert.ok(isPermutation(batches.flatMap(exampleIds), 10));
    for (const batch of batches) {
      assert.deepEqual(Array.from(batch.labels), exampleIds(batch).map((i) => i % 10));
    }
  });

  it('uses a fresh order each epoch and is reproducible by seed', () => {
    const split = syntheticSplit(40);
    const rng = seedrandom('x');
    const first = [...epochBatches(split, 8, rng)].flatMap(exampleIds);
    const second = [...epochBatches(split, 8, rng)].flatMap(exampleIds);
    assert.notDeepEqual(first, second);
    const again = [...epochBatches(split, 8, seedrandom('x'))].flatMap(exampleIds);
    assert.deepEqual(first, again);
  });
});

describe('sequentialBatches', () => {
  it('covers every example once in order, including the last partial batch', () => {
    const batches = [...sequentialBatches(syntheticSplit(10), 4)];
    assert.deepEqual(
      batches.map((b) => b.size),
      [4, 4, 2],
    );
    assert.deepEqual(
      batches.flatMap(exampleIds),
      Array.from({ length: 10 }, (_, i) => i),
    );
  });

  it('yields nothing for an empty split', () => {
    assert.equal([...sequentialBatches(syntheticSplit(0), 4)].length, 0);
  });
});
