import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError } from '../src/data/idx.js';
import { defaultMnistDir, loadMnist } from '../src/data/mnist.js';

/** Bytes of an unsigned-byte IDX file. */
function idxBytes(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, 0x08, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function fileProblem(file: string, problem: string): RegExp {
  return new RegExp(`${escape(file)}: ${problem}`);
}

const ROWS = 2;
const COLS = 3;
const FEATURES = ROWS * COLS;

/** Image i has pixels i*FEATURES .. i*FEATURES+5 (mod 256); label i % 10. */
function images(count: number, first = 0, rows = ROWS, cols = COLS): Uint8Array {
  const pixels = Array.from({ length: count * rows * cols }, (_, k) => (first * rows * cols + k) % 256);
  return idxBytes([count, rows, cols], pixels);
}

function labels(count: number, first = 0): Uint8Array {
  return idxBytes([count], Array.from({ length: count }, (_, i) => (first + i) % 10));
}

/** Writes a consistent synthetic MNIST folder: `train` training and `test` test examples. */
function writeMnist(dir: string, train = 10, test = 4): void {
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), images(train));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels(train));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), images(test, 100));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels(test, 100));
}

describe('loadMnist on a synthetic folder', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'synthgrad-mnist-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('splits the training file into train and validation views', () => {
    writeMnist(dir, 10, 4);
    const mnist = loadMnist(dir, { validationSize: 3 });

    assert.equal(mnist.train.count, 7);
    assert.equal(mnist.validation.count, 3);
    assert.equal(mnist.test.count, 4);
    for (const split of [mnist.train, mnist.validation, mnist.test]) {
      assert.equal(split.rows, ROWS);
      assert.equal(split.cols, COLS);
      assert.equal(split.images.length, split.count * FEATURES);
      assert.equal(split.labels.length, split.count);
    }
    assert.deepEqual(Array.from(mnist.train.labels), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(mnist.validation.labels), [7, 8, 9]);
    assert.deepEqual(Array.from(mnist.test.labels), [0, 1, 2, 3]);
    assert.equal(mnist.train.images[0], 0);
    assert.equal(mnist.validation.images[0], 7 * FEATURES);
    assert.equal(mnist.test.images[0], (100 * FEATURES) % 256);
    assert.equal(mnist.train.images.buffer, mnist.validation.images.buffer, 'splits should be views of one file');
  });

  it('uses 5000 validation examples by default', () => {
    writeMnist(dir, 5002, 2);
    const mnist = loadMnist(dir);
    assert.equal(mnist.train.count, 2);
    assert.equal(mnist.validation.count, 5000);
  });

  it('accepts an empty validation split', () => {
    writeMnist(dir, 5, 2);
    const mnist = loadMnist(dir, { validationSize: 0 });
    assert.equal(mnist.train.count, 5);
    assert.equal(mnist.validation.count, 0);
  });

  it('reads .gz files and prefers the plain file when both exist', () => {
    writeMnist(dir, 6, 2);
    rmSync(join(dir, 'train-images-idx3-ubyte'));
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(images(6)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), 'not gzip and never read');
    const mnist = loadMnist(dir, { validationSize: 1 });
    assert.equal(mnist.train.count, 5);
    assert.equal(mnist.train.images[FEATURES], FEATURES);
    assert.deepEqual(Array.from(mnist.test.labels), [0, 1]);
  });

  it('reports a missing file, listing the four expected names', () => {
    writeMnist(dir);
    rmSync(join(dir, 't10k-labels-idx1-ubyte'));
    const missing = join(dir, 't10k-labels-idx1-ubyte');
    assert.throws(() => loadMnist(dir, { validationSize: 1 }), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.equal(err.file, missing);
      assert.match(
        err.message,
        fileProblem(
          missing,
          'missing MNIST file t10k-labels-idx1-ubyte .*expected the four files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte',
        ),
      );
      return true;
    });
  });

  it('reports a missing directory', () => {
    const missing = join(dir, 'nowhere');
    assert.throws(() => loadMnist(missing), fileProblem(missing, 'MNIST directory does not exist'));
  });

  it('reports a path that is not a directory', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    assert.throws(() => loadMnist(file), fileProblem(file, 'expected an MNIST directory.*not a directory'));
  });

  it('reports mismatched image and label counts, naming both files and counts', () => {
    writeMnist(dir, 10, 4);
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels(3));
    const labelsFile = join(dir, 't10k-labels-idx1-ubyte');
    const imagesFile = join(dir, 't10k-images-idx3-ubyte');
    assert.throws(
      () => loadMnist(dir, { validationSize: 1 }),
      fileProblem(labelsFile, `has 3 labels but ${escape(imagesFile)} has 4 images`),
    );
  });

  it('reports a label out of range with its index and value', () => {
    writeMnist(dir, 10, 4);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxBytes([10], [0, 1, 2, 3, 4, 12, 6, 7, 8, 9]));
    assert.throws(
      () => loadMnist(dir, { validationSize: 1 }),
      fileProblem(join(dir, 'train-labels-idx1-ubyte'), 'label at index 5 is 12, expected a digit 0\\.\\.9'),
    );
  });

  it('reports an images file with the wrong number of dimensions', () => {
    writeMnist(dir);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), labels(10));
    assert.throws(
      () => loadMnist(dir, { validationSize: 1 }),
      fileProblem(join(dir, 'train-images-idx3-ubyte'), 'expected magic number 0x00000803 .*found 0x00000801'),
    );
  });

  it('reports test images of a different size than the training images', () => {
    writeMnist(dir, 10, 4);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), images(4, 0, 3, 3));
    assert.throws(
      () => loadMnist(dir, { validationSize: 1 }),
      fileProblem(join(dir, 't10k-images-idx3-ubyte'), 'images are 3x3 but the training images in .* are 2x3'),
    );
  });

  it('requires validationSize to leave training examples', () => {
    writeMnist(dir, 10, 4);
    assert.throws(
      () => loadMnist(dir, { validationSize: 10 }),
      fileProblem(join(dir, 'train-images-idx3-ubyte'), 'validationSize 10 must be smaller than the 10 training images'),
    );
    assert.throws(() => loadMnist(dir, { validationSize: -1 }), RangeError);
    assert.throws(() => loadMnist(dir, { validationSize: 1.5 }), RangeError);
  });
});

describe('loadMnist on the bundled MNIST', () => {
  it('loads 55000/5000/10000 28x28 images with valid labels', () => {
    const mnist = loadMnist(defaultMnistDir());
    assert.equal(mnist.train.count, 55000);
    assert.equal(mnist.validation.count, 5000);
    assert.equal(mnist.test.count, 10000);
    for (const split of [mnist.train, mnist.validation, mnist.test]) {
      assert.equal(split.rows, 28);
      assert.equal(split.cols, 28);
      assert.equal(split.images.length, split.count * 784);
      assert.equal(split.labels.length, split.count);
      assert.ok(split.labels.every((label) => label <= 9));
      assert.ok(split.images.some((pixel) => pixel !== 0), 'pixels should not all be zero');
    }
    // Every digit occurs in every split.
    for (const split of [mnist.train, mnist.validation, mnist.test]) {
      assert.equal(new Set(split.labels).size, 10);
    }
  });
});
