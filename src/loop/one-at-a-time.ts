/**
 * Runs pieces of work one at a time, in the order they are given. A stage's actions read tensors
 * asynchronously (on a GPU they wait for it); a control message that arrives meanwhile is answered
 * after the action, never in the middle of it (a checkpoint or a lost step between two halves of a
 * step would see the stage half-way).
 */
export class OneAtATime {
  private last: Promise<unknown> = Promise.resolve();

  run<T>(work: () => T | Promise<T>): Promise<T> {
    const result = this.last.then(work);
    this.last = result.catch(() => undefined);
    return result;
  }
}
