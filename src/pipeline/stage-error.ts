/** A stage worker failed: carries the stage index and the worker's own stack. */
export class StageError extends Error {
  constructor(
    readonly stage: number,
    cause: unknown,
  ) {
    const inner = cause as Error;
    super(`stage ${stage} failed: ${inner?.message ?? String(cause)}`, { cause });
    this.name = 'StageError';
    if (inner?.stack) this.stack = `${this.name}: ${this.message}\n  worker stack:\n${inner.stack}`;
  }
}
