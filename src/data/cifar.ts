/**
 * Loading of CIFAR-10 from its binary distribution (the files of `cifar-10-batches-bin`),
 * split into train / validation / test like MNIST.
 *
 * Each file is a sequence of 3073-byte records: 1 label byte (0-9), then the 32x32 image as
 * 1024 red, 1024 green and 1024 blue bytes, each plane row-major. The images are stored here
 * with the channels interleaved (HWC), so a batch is [batch, 32, 32, 3] (NHWC).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, readBytes } from './idx.js';
import { DEFAULT_VALIDATION_SIZE, sliceSplit, type Split } from './mnist.js';

export const CIFAR10_ROWS = 32;
export const CIFAR10_COLS = 32;
export const CIFAR10_CHANNELS = 3;
/** Bytes of one image (3072). */
export const CIFAR10_IMAGE_BYTES = CIFAR10_ROWS * CIFAR10_COLS * CIFAR10_CHANNELS;
/** Bytes of one record: the label byte and the image (3073). */
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_IMAGE_BYTES;
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'] as const;
export const CIFAR10_TEST_FILE = 'test_batch.bin';
/** Class names, by label. */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

/** The subfolder the CIFAR-10 binary archive (cifar-10-binary.tar.gz) extracts to. */
const ARCHIVE_FOLDER = 'cifar-10-batches-bin';
const NUM_CLASSES = 10;
const PLANE = CIFAR10_ROWS * CIFAR10_COLS;

export interface Cifar10 {
  train: Split;
  validation: Split;
  test: Split;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/**
 * Parses the records of one CIFAR-10 binary file into `images` (HWC) and `labels` at example
 * `offset` (both arrays must have room). `file` names the file in errors. Returns the record count.
 */
function decodeRecords(bytes: Uint8Array, file: string, images: Uint8Array, labels: Uint8Array, offset: number): number {
  const count = bytes.length / CIFAR10_RECORD_BYTES;
  for (let r = 0; r < count; r++) {
    const start = r * CIFAR10_RECORD_BYTES;
    const label = bytes[start]!;
    if (label >= NUM_CLASSES) {
      throw new DataError(file, `record ${r} (byte ${start}) has label ${label}, expected a class 0..${NUM_CLASSES - 1}`);
    }
    labels[offset + r] = label;
    const out = (offset + r) * CIFAR10_IMAGE_BYTES;
    const red = start + 1;
    const green = red + PLANE;
    const blue = green + PLANE;
    for (let p = 0; p < PLANE; p++) {
      const o = out + 3 * p;
      images[o] = bytes[red + p]!;
      images[o + 1] = bytes[green + p]!;
      images[o + 2] = bytes[blue + p]!;
    }
  }
  return count;
}

/** Throws unless `bytes` is a non-empty whole number of records. */
function checkLength(bytes: Uint8Array, file: string): void {
  if (bytes.length === 0) {
    throw new DataError(file, `is empty, expected ${CIFAR10_RECORD_BYTES}-byte CIFAR-10 records (1 label byte + ${CIFAR10_IMAGE_BYTES} pixel bytes)`);
  }
  const rest = bytes.length % CIFAR10_RECORD_BYTES;
  if (rest !== 0) {
    const whole = Math.floor(bytes.length / CIFAR10_RECORD_BYTES);
    throw new DataError(
      file,
      `has ${bytes.length} bytes, not a multiple of the ${CIFAR10_RECORD_BYTES}-byte CIFAR-10 record ` +
        `(1 label byte + ${CIFAR10_IMAGE_BYTES} pixel bytes): ${whole} whole records and ${rest} bytes left over (truncated or not a CIFAR-10 binary file?)`,
    );
  }
}

function emptySplit(count: number): Split {
  return {
    images: new Uint8Array(count * CIFAR10_IMAGE_BYTES),
    labels: new Uint8Array(count),
    count,
    rows: CIFAR10_ROWS,
    cols: CIFAR10_COLS,
    channels: CIFAR10_CHANNELS,
  };
}

/**
 * The examples of one or more CIFAR-10 binary files, in order, as one split (images HWC).
 * Throws DataError, naming the file, for an unreadable file, a length that is not a positive
 * multiple of 3073 bytes, or a label above 9.
 */
export function readCifar10Files(files: readonly string[]): Split {
  const contents = files.map((file) => {
    const bytes = readBytes(file);
    checkLength(bytes, file);
    return bytes;
  });
  const total = contents.reduce((n, bytes) => n + bytes.length / CIFAR10_RECORD_BYTES, 0);
  const split = emptySplit(total);
  let offset = 0;
  contents.forEach((bytes, i) => {
    offset += decodeRecords(bytes, files[i]!, split.images, split.labels, offset);
  });
  return split;
}


/** `dir`, or its cifar-10-batches-bin subfolder when the files are there instead. */
function locateFolder(dir: string): string {
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (stats === undefined) throw new DataError(dir, 'CIFAR-10 directory does not exist');
  if (!stats.isDirectory()) throw new DataError(dir, 'expected a CIFAR-10 directory, found something that is not a directory');
  const all = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE];
  const nested = join(dir, ARCHIVE_FOLDER);
  if (!all.some((name) => isFile(join(dir, name))) && all.every((name) => isFile(join(nested, name)))) return nested;
  const missing = all.filter((name) => !isFile(join(dir, name)));
  if (missing.length > 0) {
    throw new DataError(
      join(dir, missing[0]!),
      `missing CIFAR-10 file${missing.length === 1 ? '' : 's'} ${missing.join(', ')} in ${dir}; ` +
        `expected the six files ${all.join(', ')} of the binary version (the folder ${ARCHIVE_FOLDER} of cifar-10-binary.tar.gz)`,
    );
  }
  return dir;
}

/**
 * Loads CIFAR-10 (binary version) from `dir`: the folder with data_batch_1.bin .. data_batch_5.bin
 * and test_batch.bin (or the folder holding cifar-10-batches-bin). train = the first
 * (50,000 - validationSize) training examples (files in order), validation = the last
 * validationSize, test = test_batch.bin. Splits have rows = cols = 32, channels = 3, and images
 * in HWC order (a batch is [batch, 32, 32, 3]); the arrays are views of one buffer per file group.
 * Throws DataError for a missing folder or file and for malformed data.
 */
export function loadCifar10(dir: string, options: { validationSize?: number } = {}): Cifar10 {
  const validationSize = options.validationSize ?? DEFAULT_VALIDATION_SIZE;
  if (!Number.isInteger(validationSize) || validationSize < 0) {
    throw new RangeError(`validationSize must be a non-negative integer, got ${validationSize}`);
  }
  const folder = locateFolder(dir);
  const trainFiles = CIFAR10_TRAIN_FILES.map((name) => join(folder, name));
  const training = readCifar10Files(trainFiles);
  const test = readCifar10Files([join(folder, CIFAR10_TEST_FILE)]);
  if (validationSize >= training.count) {
    throw new DataError(
      trainFiles[0]!,
      `validationSize ${validationSize} must be smaller than the ${training.count} training images of ${CIFAR10_TRAIN_FILES.join(', ')}, to leave some for training`,
    );
  }
  const trainCount = training.count - validationSize;
  return {
    train: sliceSplit(training, 0, trainCount),
    validation: sliceSplit(training, trainCount, training.count),
    test,
  };
}
