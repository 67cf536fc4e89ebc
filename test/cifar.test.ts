import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import seedrandom from 'seedrandom';
import {
  CIFAR10_RECORD_BYTES,
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
  DataError,
  epochBatches,
  loadCifar10,
  loadMnist,
  makeBatch,
  readCifar10Files,
  type Split,
} from '../src/data/index.js';
import { PER_FILE, cifarFile, labelOf, pixel, writeCifar } from './helpers/cifar-files.js';

/** Checks that example e of `split` is example `id` in HWC order, and its label. */
function checkExample(split: Split, e: number, id: number): void {
  assert.equal(split.labels[e], labelOf(id), `label of example ${e}`);
  const base = e * 3072;
  for (const [r, k] of [[0, 0], [0, 31], [5, 17], [31, 0], [31, 31]]) {
    for (let c = 0; c < 3; c++) {
      assert.equal(split.images[base + (r * 32 + k) * 3 + c], pixel(id, c, r, k), `example ${e} (id ${id}) pixel (${r}, ${k}) channel ${c}`);
    }
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A DataError about `file` whose message matches `problem`. */
function dataError(file: string, problem: RegExp | string) {
  return (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.match(err.message, new RegExp(`^${escape(file)}: ${typeof problem === 'string' ? escape(problem) : problem.source}`));
    return true;
  };
}

describe('loadCifar10 on a fake folder', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'synthgrad-cifar-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the five training files in order and the test file, images HWC', () => {
    writeCifar(dir);
    const cifar = loadCifar10(dir, { validationSize: 40 });
    const { train, validation, test } = cifar;
    for (const split of [train, validation, test]) {
      assert.deepEqual([split.rows, split.cols, split.channels], [32, 32, 3]);
      assert.equal(split.images.length, split.count * 3072);
      assert.equal(split.labels.length, split.count);
    }
    assert.deepEqual([train.count, validation.count, test.count], [110, 40, 30]);
    // every pixel of one example: image[(r * 32 + k) * 3 + c] = plane c at (r, k)
    for (let r = 0; r < 32; r++) {
      for (let k = 0; k < 32; k++) {
        for (let c = 0; c < 3; c++) assert.equal(train.images[3072 * 37 + (r * 32 + k) * 3 + c], pixel(37, c, r, k));
      }
    }
    for (let e = 0; e < train.count; e++) checkExample(train, e, e);
    for (let e = 0; e < validation.count; e++) checkExample(validation, e, 110 + e);
    for (let e = 0; e < test.count; e++) checkExample(test, e, 1000 + e);
    assert.deepEqual(Array.from(train.labels.subarray(0, 5)), [3, 0, 7, 4, 1]);
  });

  it('validationSize defaults to 5000 (too many here) and may be 0', () => {
    writeCifar(dir);
    assert.throws(() => loadCifar10(dir), dataError(join(dir, 'data_batch_1.bin'), /validationSize 5000 must be smaller than the 150 training images/));
    const all = loadCifar10(dir, { validationSize: 0 });
    assert.deepEqual([all.train.count, all.validation.count], [150, 0]);
    assert.throws(() => loadCifar10(dir, { validationSize: -1 }), RangeError);
  });

  it('finds the files in a cifar-10-batches-bin subfolder', () => {
    const nested = join(dir, 'cifar-10-batches-bin');
    mkdirSync(nested);
    writeCifar(nested);
    assert.equal(loadCifar10(dir, { validationSize: 10 }).test.count, 30);
  });

  it('makeBatch gives [batch, 32, 32, 3] floats in HWC order; epochBatches works', () => {
    writeCifar(dir);
    const { train } = loadCifar10(dir, { validationSize: 10 });
    const batch = makeBatch(train, [12, 3, 99], 1, 2);
    assert.equal(batch.size, 2);
    assert.equal(batch.x.length, 2 * 3072);
    assert.deepEqual(Array.from(batch.labels), [labelOf(3), labelOf(99)]);
    for (const [b, id] of [[0, 3], [1, 99]]) {
      for (const [r, k, c] of [[0, 0, 0], [0, 0, 2], [3, 9, 1], [31, 31, 2]]) {
        assert.equal(Math.round(batch.x[b * 3072 + (r * 32 + k) * 3 + c] * 255), pixel(id, c, r, k));
      }
    }
    const batches = [...epochBatches(train, 32, seedrandom('e'))];
    assert.equal(batches.length, 4);
    assert.ok(batches.every((bb) => bb.x.length === 32 * 3072));
  });

  it('MNIST splits keep one channel (channels absent = 1)', () => {
    const mnist = loadMnist();
    assert.equal(mnist.train.channels ?? 1, 1);
    assert.equal(makeBatch(mnist.test, [0, 1], 0, 2).x.length, 2 * 784);
  });

  it('a missing folder or file names what is expected', () => {
    assert.throws(() => loadCifar10(join(dir, 'nope')), dataError(join(dir, 'nope'), 'CIFAR-10 directory does not exist'));
    writeFileSync(join(dir, 'file'), 'x');
    assert.throws(() => loadCifar10(join(dir, 'file')), dataError(join(dir, 'file'), /expected a CIFAR-10 directory/));
    unlinkSync(join(dir, 'file'));
    writeCifar(dir);
    unlinkSync(join(dir, 'data_batch_3.bin'));
    unlinkSync(join(dir, 'test_batch.bin'));
    assert.throws(
      () => loadCifar10(dir, { validationSize: 10 }),
      dataError(
        join(dir, 'data_batch_3.bin'),
        `missing CIFAR-10 files data_batch_3.bin, test_batch.bin in ${dir}; expected the six files data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin`,
      ),
    );
  });

  it('a file whose length is not a multiple of 3073 bytes', () => {
    writeCifar(dir);
    const file = join(dir, 'data_batch_4.bin');
    writeFileSync(file, cifarFile(0, 3).subarray(0, 3 * 3073 - 100));
    assert.throws(
      () => loadCifar10(dir, { validationSize: 10 }),
      dataError(file, 'has 9119 bytes, not a multiple of the 3073-byte CIFAR-10 record (1 label byte + 3072 pixel bytes): 2 whole records and 2973 bytes left over'),
    );
    writeFileSync(file, new Uint8Array(0));
    assert.throws(() => loadCifar10(dir, { validationSize: 10 }), dataError(file, /is empty, expected 3073-byte CIFAR-10 records/));
  });

  it('a label above 9', () => {
    writeCifar(dir);
    const file = join(dir, CIFAR10_TEST_FILE);
    const bytes = cifarFile(1000, 5);
    bytes[3 * 3073] = 10;
    writeFileSync(file, bytes);
    assert.throws(() => loadCifar10(dir, { validationSize: 10 }), dataError(file, 'record 3 (byte 9219) has label 10, expected a class 0..9'));
  });

  it('readCifar10Files concatenates files; an unreadable path is a DataError', () => {
    writeFileSync(join(dir, 'a.bin'), cifarFile(0, 2));
    writeFileSync(join(dir, 'b.bin'), cifarFile(2, 3));
    const split = readCifar10Files([join(dir, 'a.bin'), join(dir, 'b.bin')]);
    assert.equal(split.count, 5);
    for (let e = 0; e < 5; e++) checkExample(split, e, e);
    assert.throws(() => readCifar10Files([join(dir, 'c.bin')]), dataError(join(dir, 'c.bin'), 'cannot read file: no such file'));
  });
});
