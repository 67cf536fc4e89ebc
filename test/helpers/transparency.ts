import assert from 'node:assert/strict';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { ThreadStageHost } from '../../src/transport/threads/thread-host.js';
import { stageSpecs } from '../../src/stage/stage-spec.js';
import { referenceBackprop, maxDifference } from './reference.js';
import { copyBatch } from './fixtures.js';
import type { Config } from '../../src/config/schema.js';
import type { Batch } from '../../src/data/index.js';

/** The stages' weights after backprop (update-locked, one batch in flight) on `batches`. */
async function pipelinedBackprop(config: Config, batches: Batch[]): Promise<Float32Array[][]> {
  const pipeline = await Pipeline.start(stageSpecs(config, 1), {}, new ThreadStageHost());
  try {
    for (const [step, batch] of batches.entries()) {
      await pipeline.credit(1);
      pipeline.feed(copyBatch(batch), step);
    }
    await pipeline.drain();
    return await pipeline.weights();
  } finally {
    await pipeline.stop();
  }
}

/**
 * Backprop in the stage workers (on the config's backend) ends with the weights of single-process
 * tfjs autodiff on the active backend, the largest absolute difference of a weight under
 * `tolerance`, and training moved them.
 */
export async function assertTransparent(config: Config, batches: Batch[], tolerance = 1e-5): Promise<void> {
  const expected = referenceBackprop(config, batches);
  const actual = await pipelinedBackprop(config, batches);
  assert.equal(actual.length, 3);
  const diff = maxDifference(actual, expected);
  assert.ok(diff < tolerance, `largest weight difference ${diff} (tolerance ${tolerance})`);
  // the comparison is not between two untouched initialisations
  assert.ok(maxDifference(actual, referenceBackprop(config, [])) > 1e-3);
}
