import type { ConfigInput } from '../../config/schema.js';
import { stepsPerEpoch } from '../../run/training-order.js';

/** The learning-rate schedule and length of a run of `steps` training steps. */
export interface BudgetSchedule {
  steps: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** ÷decayFactor at these steps: half and three quarters of the budget. */
  decaySteps: number[];
  decayFactor: number;
}

/** The budget of a config as it stands: all its epochs (or its maxSteps, when shorter). */
export function fullBudget(config: ConfigInput, trainCount: number): number {
  const all = stepsPerEpoch(trainCount, config.train.batchSize) * config.train.epochs;
  return Math.min(all, config.train.maxSteps ?? Infinity);
}

/**
 * `config` shortened or lengthened to `steps` training steps, with its step schedule scaled to
 * the budget: the learning rate is divided by decayFactor at 1/2 and 3/4 of the steps (the
 * presets' epochs 10 and 15 of 20). Epochs are the fewest that hold the steps; maxSteps is set only
 * when the last epoch is partial, so the full budget of a preset (20 epochs, 8580 steps of 128 on
 * MNIST's 55,000 training images) gives the preset back unchanged.
 */
export function withBudget(config: ConfigInput, steps: number, trainCount: number): ConfigInput {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`budget must be a positive whole number of training steps, got ${steps}`);
  const perEpoch = stepsPerEpoch(trainCount, config.train.batchSize);
  if (perEpoch < 1) throw new RangeError(`batch size ${config.train.batchSize} is larger than the training set (${trainCount} examples)`);
  const epochs = Math.ceil(steps / perEpoch);
  const decaySteps = [...new Set([Math.round(steps / 2), Math.round((3 * steps) / 4)])].filter((s) => s >= 1 && s < steps);
  const { maxSteps: _maxSteps, ...train } = config.train;
  return {
    ...config,
    optimizer: { ...config.optimizer, decaySteps },
    train: { ...train, epochs, ...(epochs * perEpoch > steps ? { maxSteps: steps } : {}) },
  };
}

/** What withBudget chose, for tables and logs. */
export function budgetSchedule(config: ConfigInput, trainCount: number): BudgetSchedule {
  return {
    steps: fullBudget(config, trainCount),
    epochs: config.train.epochs,
    batchSize: config.train.batchSize,
    learningRate: config.optimizer.learningRate,
    decaySteps: config.optimizer.decaySteps ?? [],
    decayFactor: config.optimizer.decayFactor ?? 0.1,
  };
}
