export { DataError, parseIdx, readIdx, type IdxArray } from './idx.js';
export { DEFAULT_VALIDATION_SIZE, defaultMnistDir, loadMnist, type Mnist, type Split } from './mnist.js';
export { batchCount, epochBatches, makeBatch, sequentialBatches, shuffledIndices, type Batch } from './batches.js';
export {
  CIFAR10_CHANNELS,
  CIFAR10_CLASSES,
  CIFAR10_COLS,
  CIFAR10_IMAGE_BYTES,
  CIFAR10_RECORD_BYTES,
  CIFAR10_ROWS,
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
  loadCifar10,
  readCifar10Files,
  type Cifar10,
} from './cifar.js';
export { checkInputShape, imageShapeOf, loadDataset, type Dataset } from './dataset.js';
export { labellings, relabel, type Labelling } from './labels.js';
