import { NonFiniteError } from '../stage/non-finite.js';
import type { StageFailure } from '../stage/protocol.js';

/** What a stage that threw tells the orchestrator: plain data, so that it crosses any transport. */
export function failureOf(error: unknown): StageFailure {
  const err = error as Error | undefined;
  return {
    message: err?.message ?? String(error),
    ...(err?.stack && { stack: err.stack }),
    retryable: !(error instanceof NonFiniteError),
  };
}
