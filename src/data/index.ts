export { DataError, parseIdx, readIdx, type IdxArray } from './idx.js';
export { DEFAULT_VALIDATION_SIZE, defaultMnistDir, loadMnist, type Mnist, type Split } from './mnist.js';
export { batchCount, epochBatches, makeBatch, sequentialBatches, shuffledIndices, type Batch } from './batches.js';
