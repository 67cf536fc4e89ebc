import { isNonFiniteMessage } from '../stage/non-finite.js';

/** A stage worker failed: carries the stage index and the worker's own stack. */
export class StageError extends Error {
  /** A restart cannot cure it (a NaN or Inf would come back): the run stops. */
  readonly retryable: boolean;

  constructor(
    readonly stage: number,
    cause: unknown,
  ) {
    const inner = cause as Error;
    super(`stage ${stage} failed: ${inner?.message ?? String(cause)}`, { cause });
    this.name = 'StageError';
    this.retryable = !isNonFiniteMessage(this.message);
    if (inner?.stack) this.stack = `${this.name}: ${this.message}\n  worker stack:\n${inner.stack}`;
  }
}
