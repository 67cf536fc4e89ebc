/**
 * Which data set a `--data` folder holds: MNIST (the four IDX files) or CIFAR-10 (the binary
 * batches), and whether a model's input fits its images.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './idx.js';
import { MNIST_FILES, loadMnist, type Mnist, type Split } from './mnist.js';
import { CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, loadCifar10 } from './cifar.js';

/** Train, validation and test splits of images with labels 0-9 (MNIST or CIFAR-10). */
export type Dataset = Mnist;

const CIFAR_FILES = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE];

function holdsAny(dir: string, names: readonly string[], suffixes: readonly string[] = ['']): boolean {
  return names.some((name) => suffixes.some((suffix) => existsSync(join(dir, name + suffix))));
}

/**
 * Loads the data set in `dir` (default: the bundled MNIST): CIFAR-10 when the folder (or its
 * cifar-10-batches-bin subfolder) holds data_batch_*.bin / test_batch.bin, MNIST when it holds the
 * IDX files. Throws DataError naming `dir` when it holds neither, and as the readers do otherwise.
 */
export function loadDataset(dir: string | undefined, options: { validationSize?: number } = {}): Dataset {
  if (dir === undefined) return loadMnist(undefined, options);
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (stats === undefined) throw new DataError(dir, 'data directory does not exist');
  if (!stats.isDirectory()) throw new DataError(dir, 'expected a data directory, found something that is not a directory');
  if (holdsAny(dir, CIFAR_FILES) || holdsAny(join(dir, 'cifar-10-batches-bin'), CIFAR_FILES)) return loadCifar10(dir, options);
  if (holdsAny(dir, MNIST_FILES, ['', '.gz'])) return loadMnist(dir, options);
  throw new DataError(
    dir,
    `holds neither MNIST nor CIFAR-10: expected the MNIST IDX files ${MNIST_FILES.join(', ')} (each plain or .gz), ` +
      `or the CIFAR-10 binary files ${CIFAR_FILES.join(', ')}`,
  );
}

/** Per-example shape [rows, cols, channels] of a split's images. */
export function imageShapeOf(split: Split): number[] {
  return [split.rows, split.cols, split.channels ?? 1];
}

/**
 * Throws DataError (naming `source`) unless a model with per-example `inputShape` takes the
 * images of `data`: the same [rows, cols, channels], or flat with as many values.
 */
export function checkInputShape(inputShape: readonly number[], data: Dataset, source: string): void {
  const image = imageShapeOf(data.train);
  const size = image[0] * image[1] * image[2];
  const same = inputShape.length === 3 && inputShape.every((d, i) => d === image[i]);
  const flat = inputShape.length === 1 && inputShape[0] === size;
  if (same || flat) return;
  throw new DataError(
    source,
    `holds ${image.join('x')} images, but the model's input is [${inputShape.join(', ')}]; ` +
      `expected model.inputShape [${image.join(', ')}] (or [${size}] for an MLP)` +
      (image[2] === 3 ? ', e.g. --preset cifar-cnn-cdni' : ''),
  );
}
