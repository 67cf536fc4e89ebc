/**
 * Reader for IDX files (the format of the MNIST distribution), restricted to
 * unsigned-byte data (type code 0x08). Files may be plain or gzip-compressed.
 *
 * IDX layout (all integers big-endian):
 *   bytes 0-1  zero
 *   byte  2    data type (0x08 = unsigned byte)
 *   byte  3    number of dimensions D
 *   then D uint32 sizes, then the data, row-major, exactly prod(sizes) items.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { PathError } from '../path-error.js';

/** A problem with a data file or folder. The message always starts with the path. */
export class DataError extends PathError {
  /** The file or folder the problem is about (its `path`). */
  get file(): string {
    return this.path;
  }
}

/** An n-dimensional array of bytes; `data` holds prod(dims) bytes, row-major. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UNSIGNED_BYTE = 0x08;
const MAX_DIMS = 255;

const TYPE_NAMES: Readonly<Record<number, string>> = {
  0x08: 'unsigned bytes',
  0x09: 'signed bytes',
  0x0b: '16-bit integers',
  0x0c: '32-bit integers',
  0x0d: '32-bit floats',
  0x0e: '64-bit floats',
};

function hex(value: number, digits: number): string {
  return '0x' + value.toString(16).toUpperCase().padStart(digits, '0');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function describeExpectedMagic(expectedDims: number | undefined): string {
  return expectedDims === undefined
    ? 'expected magic number 0x000008NN (unsigned bytes, NN dimensions)'
    : `expected magic number ${hex(0x0800 | expectedDims, 8)} (unsigned bytes, ${plural(expectedDims, 'dimension')})`;
}

function describeFoundMagic(bytes: Uint8Array): string {
  const magic = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const found = `found ${hex(magic, 8)}`;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return `${found} (gzip data: decompress it first)`;
  if (bytes[0] !== 0 || bytes[1] !== 0) return `${found} (not an IDX file: the first two bytes must be zero)`;
  const typeName = TYPE_NAMES[bytes[2]!] ?? `unknown data type ${hex(bytes[2]!, 2)}`;
  return `${found} (${typeName}, ${plural(bytes[3]!, 'dimension')})`;
}

function checkExpectedDims(expectedDims: number | undefined): void {
  if (expectedDims === undefined) return;
  if (!Number.isInteger(expectedDims) || expectedDims < 1 || expectedDims > MAX_DIMS) {
    throw new RangeError(`expectedDims must be an integer from 1 to ${MAX_DIMS}, got ${expectedDims}`);
  }
}

/**
 * Parses an in-memory IDX file of unsigned bytes. `file` is only used in error
 * messages. The returned `data` is a view into `bytes` (no copy).
 * Throws DataError when the bytes are not a well-formed unsigned-byte IDX file
 * with `expectedDims` dimensions (when given).
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedDims?: number): IdxArray {
  checkExpectedDims(expectedDims);
  const expectedMagic = describeExpectedMagic(expectedDims);

  if (bytes.length < 4) {
    throw new DataError(file, `too short for an IDX file: ${expectedMagic} in the first 4 bytes, found only ${plural(bytes.length, 'byte')}`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(file, `${expectedMagic}, ${describeFoundMagic(bytes)}`);
  }
  if (bytes[2] !== UNSIGNED_BYTE) {
    throw new DataError(
      file,
      `${expectedMagic}, ${describeFoundMagic(bytes)}; only unsigned byte data (type 0x08) is supported`,
    );
  }
  const ndims = bytes[3]!;
  if (ndims === 0 || (expectedDims !== undefined && ndims !== expectedDims)) {
    throw new DataError(file, `${expectedMagic}, ${describeFoundMagic(bytes)}`);
  }

  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    throw new DataError(
      file,
      `truncated header: expected ${headerLength} header bytes for ${plural(ndims, 'dimension')}, found ${bytes.length}`,
    );
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let expectedLength = 1;
  for (let i = 0; i < ndims; i++) {
    const size = view.getUint32(4 + 4 * i, false);
    dims.push(size);
    expectedLength *= size;
  }

  const foundLength = bytes.length - headerLength;
  const shape = `dimensions ${dims.join('x')}`;
  if (foundLength < expectedLength) {
    throw new DataError(file, `truncated: expected ${expectedLength} bytes of data, found ${foundLength} (${shape})`);
  }
  if (foundLength > expectedLength) {
    throw new DataError(
      file,
      `has ${foundLength - expectedLength} extra bytes after the expected ${expectedLength} bytes of data (${shape})`,
    );
  }

  // A plain Uint8Array view (not a Buffer), sharing the caller's memory.
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset + headerLength, expectedLength);
  return { dims, data };
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory, expected a file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** A data file's bytes; an unreadable file is a DataError naming it. */
export function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new DataError(path, `cannot read file: ${describeFsError(err)}`, { cause: err });
  }
}

function gunzip(bytes: Uint8Array, path: string): Uint8Array {
  if (!isGzip(bytes)) {
    const found = Array.from(bytes.subarray(0, 2), (b) => hex(b, 2)).join(' ') || 'an empty file';
    throw new DataError(path, `expected gzip data (magic bytes 0x1F 0x8B) for a .gz file, found ${found}`);
  }
  try {
    return gunzipSync(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DataError(path, `corrupt gzip data: ${reason}`, { cause: err });
  }
}

/**
 * Reads an unsigned-byte IDX file from disk, decompressing it when it is
 * gzipped (gzip magic bytes, or a name ending in .gz).
 * Throws DataError, naming `path`, for unreadable, corrupt or malformed files.
 */
export function readIdx(path: string, expectedDims?: number): IdxArray {
  checkExpectedDims(expectedDims);
  const raw = readBytes(path);
  const bytes = isGzip(raw) || path.endsWith('.gz') ? gunzip(raw, path) : raw;
  return parseIdx(bytes, path, expectedDims);
}
