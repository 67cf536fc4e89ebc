import type { StageFailure } from '../stage/protocol.js';

/** A stage failed: carries the stage index, whether a restart may cure it, and the stage's own stack. */
export class StageError extends Error {
  /** A restart cannot cure it (a NaN or Inf would come back): the run stops. */
  readonly retryable: boolean;

  /** `failure`: as the stage reported it, or an error of the transport (its process died): retryable. */
  constructor(
    readonly stage: number,
    failure: Pick<StageFailure, 'message' | 'stack'> & { retryable?: boolean },
  ) {
    super(`stage ${stage} failed: ${failure.message}`, { cause: failure });
    this.name = 'StageError';
    this.retryable = failure.retryable ?? true;
    if (failure.stack) this.stack = `${this.name}: ${this.message}\n  worker stack:\n${failure.stack}`;
  }
}
