import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError, parseIdx, readIdx } from '../src/data/idx.js';
import { PathError } from '../src/path-error.js';

/** Bytes of an IDX file: magic (with optional leading bytes), big-endian dims, then data. */
function idxBytes(dims: number[], data: ArrayLike<number>, type = 0x08, lead: [number, number] = [0, 0]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out.set([lead[0], lead[1], type, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A regex matching `<file>: <problem>`; `problem` is a regex source. */
function fileProblem(file: string, problem: string): RegExp {
  return new RegExp(`${escape(file)}: ${problem}`);
}

describe('parseIdx', () => {
  it('parses a 3-dim unsigned byte file as a view of the input', () => {
    const bytes = idxBytes([2, 3, 2], range(12));
    const idx = parseIdx(bytes, 'images');
    assert.deepEqual(idx.dims, [2, 3, 2]);
    assert.deepEqual(Array.from(idx.data), range(12));
    assert.equal(idx.data.buffer, bytes.buffer, 'data should be a view, not a copy');
    assert.equal(idx.data.byteOffset, 16);
    assert.deepEqual(parseIdx(bytes, 'images', 3).dims, [2, 3, 2]);
  });

  it('parses a 1-dim file', () => {
    const idx = parseIdx(idxBytes([5], [9, 8, 7, 6, 5]), 'labels', 1);
    assert.deepEqual(idx.dims, [5]);
    assert.deepEqual(Array.from(idx.data), [9, 8, 7, 6, 5]);
  });

  it('parses a view that does not start at offset 0', () => {
    const file = idxBytes([3], [1, 2, 3]);
    const padded = new Uint8Array(file.length + 7);
    padded.set(file, 5);
    const idx = parseIdx(padded.subarray(5, 5 + file.length), 'labels', 1);
    assert.deepEqual(idx.dims, [3]);
    assert.deepEqual(Array.from(idx.data), [1, 2, 3]);
  });

  it('accepts an empty data section when a dimension is zero', () => {
    const idx = parseIdx(idxBytes([0, 28, 28], []), 'images', 3);
    assert.deepEqual(idx.dims, [0, 28, 28]);
    assert.equal(idx.data.length, 0);
  });

  it('rejects truncated data, saying how much was expected and found', () => {
    const bytes = idxBytes([2, 3, 2], range(10));
    assert.throws(() => parseIdx(bytes, 'train-images-idx3-ubyte', 3), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.equal(err.file, 'train-images-idx3-ubyte');
      assert.match(err.message, fileProblem('train-images-idx3-ubyte', 'truncated: expected 12 bytes of data, found 10'));
      return true;
    });
  });

  it('rejects extra bytes after the data', () => {
    assert.throws(
      () => parseIdx(idxBytes([4], range(6)), 'train-labels-idx1-ubyte', 1),
      fileProblem('train-labels-idx1-ubyte', 'has 2 extra bytes after the expected 4 bytes of data'),
    );
  });

  it('rejects a non-byte data type (0x0D float), explaining only unsigned bytes are supported', () => {
    assert.throws(
      () => parseIdx(idxBytes([1, 1, 1], [0, 0, 0, 0], 0x0d), 'floats', 3),
      fileProblem(
        'floats',
        'expected magic number 0x00000803 \\(unsigned bytes, 3 dimensions\\), found 0x00000D03 \\(32-bit floats, 3 dimensions\\); only unsigned byte data \\(type 0x08\\) is supported',
      ),
    );
  });

  it('rejects nonzero leading bytes as not an IDX file', () => {
    assert.throws(
      () => parseIdx(idxBytes([3], [1, 2, 3], 0x08, [0x50, 0x4b]), 'archive.zip', 1),
      fileProblem('archive.zip', 'expected magic number 0x00000801 .*found 0x504B0801 \\(not an IDX file'),
    );
  });

  it('recognises gzip data passed without decompressing', () => {
    assert.throws(
      () => parseIdx(gzipSync(idxBytes([3], [1, 2, 3])), 'labels.gz'),
      fileProblem('labels.gz', 'expected magic number 0x000008NN .*found 0x1F8B.*gzip data'),
    );
  });

  it('rejects the wrong number of dimensions', () => {
    assert.throws(
      () => parseIdx(idxBytes([3], [1, 2, 3]), 'train-images-idx3-ubyte', 3),
      fileProblem(
        'train-images-idx3-ubyte',
        'expected magic number 0x00000803 \\(unsigned bytes, 3 dimensions\\), found 0x00000801 \\(unsigned bytes, 1 dimension\\)',
      ),
    );
  });

  it('rejects zero dimensions', () => {
    assert.throws(() => parseIdx(idxBytes([], [7]), 'scalar'), fileProblem('scalar', 'expected magic number .*found 0x00000800'));
  });

  it('rejects files shorter than the magic number', () => {
    assert.throws(() => parseIdx(new Uint8Array([0, 0]), 'tiny'), fileProblem('tiny', 'too short for an IDX file.*found only 2 bytes'));
  });

  it('rejects a truncated header', () => {
    const bytes = idxBytes([2, 3, 4], []).subarray(0, 10);
    assert.throws(
      () => parseIdx(bytes, 'short-header', 3),
      fileProblem('short-header', 'truncated header: expected 16 header bytes for 3 dimensions, found 10'),
    );
  });

  it('rejects an invalid expectedDims argument', () => {
    assert.throws(() => parseIdx(idxBytes([1], [1]), 'labels', 0), RangeError);
  });
});

describe('readIdx', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'synthgrad-idx-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a plain file', () => {
    const path = join(dir, 'plain-idx3-ubyte');
    writeFileSync(path, idxBytes([2, 2, 2], range(8)));
    const idx = readIdx(path, 3);
    assert.deepEqual(idx.dims, [2, 2, 2]);
    assert.deepEqual(Array.from(idx.data), range(8));
    assert.ok(!Buffer.isBuffer(idx.data), 'data should be a plain Uint8Array');
  });

  it('reads a gzipped .gz file', () => {
    const path = join(dir, 'labels-idx1-ubyte.gz');
    writeFileSync(path, gzipSync(idxBytes([4], [3, 1, 4, 1])));
    const idx = readIdx(path, 1);
    assert.deepEqual(idx.dims, [4]);
    assert.deepEqual(Array.from(idx.data), [3, 1, 4, 1]);
  });

  it('detects gzip by its magic bytes whatever the name', () => {
    const path = join(dir, 'labels-gzipped-no-suffix');
    writeFileSync(path, gzipSync(idxBytes([2], [5, 6])));
    assert.deepEqual(Array.from(readIdx(path, 1).data), [5, 6]);
  });

  it('reports corrupt gzip data', () => {
    const path = join(dir, 'corrupt-idx1-ubyte.gz');
    const gz = gzipSync(idxBytes([100], range(100)));
    writeFileSync(path, gz.subarray(0, gz.length - 20));
    assert.throws(() => readIdx(path, 1), fileProblem(path, 'corrupt gzip data'));
  });

  it('reports a .gz file that is not gzip data', () => {
    const path = join(dir, 'not-really-idx1-ubyte.gz');
    writeFileSync(path, idxBytes([2], [1, 2]));
    assert.throws(() => readIdx(path, 1), fileProblem(path, 'expected gzip data .*found 0x00 0x00'));
  });

  it('names the file in parse errors', () => {
    const path = join(dir, 'truncated-idx1-ubyte');
    writeFileSync(path, idxBytes([10], range(9)));
    assert.throws(() => readIdx(path, 1), fileProblem(path, 'truncated: expected 10 bytes of data, found 9'));
  });

  it('reports a missing file with its path', () => {
    const path = join(dir, 'does-not-exist-idx3-ubyte');
    assert.throws(() => readIdx(path, 3), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.equal(err.name, 'DataError');
      assert.ok(err instanceof PathError, 'the CLI answers it as any unusable path: one line, exit 2');
      assert.equal(err.file, path);
      assert.equal(err.path, path);
      assert.match(err.message, fileProblem(path, 'cannot read file: no such file'));
      return true;
    });
  });

  it('reports a directory given as the file', () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    assert.throws(() => readIdx(path), fileProblem(path, 'cannot read file: is a directory'));
  });
});
