import { epochBatches, type Batch, type Split } from '../data/index.js';
import type { Config } from '../config/schema.js';
import { stream } from '../stage/rng.js';
import { ConfigError } from '../config/errors.js';

/**
 * Whole batches in one epoch (a last partial batch is dropped) and the steps of a run: every
 * epoch, or train.maxSteps when fewer. Throws when one batch is larger than the training set.
 */
export function trainingSteps(trainCount: number, train: Config['train']): { perEpoch: number; total: number } {
  const perEpoch = stepsPerEpoch(trainCount, train.batchSize);
  if (perEpoch === 0) throw new ConfigError('config', [`train.batchSize: ${train.batchSize} is larger than the training set (${trainCount} examples)`]);
  return { perEpoch, total: Math.min(train.maxSteps ?? Infinity, perEpoch * train.epochs) };
}

/** Training steps in one epoch: whole batches only (the last partial batch of an epoch is dropped). */
export function stepsPerEpoch(trainCount: number, batchSize: number): number {
  return Math.floor(trainCount / batchSize);
}

/** The training batches of epoch `epoch` (from 1), in the order every run takes them: shuffled by stream(seed, 'shuffle', 'epoch', epoch). */
export function epochOrder(split: Split, train: Config['train'], epoch: number): Iterable<Batch> {
  return epochBatches(split, train.batchSize, stream(train.seed, 'shuffle', 'epoch', epoch));
}
