import type { BackwardMessage, ForwardMessage, InputMessage } from './protocol.js';

/** A stage's queued messages, in arrival order per kind, and a way to wait for the next one. */
export class Inbox {
  readonly forward: ForwardMessage[] = [];
  readonly backward: BackwardMessage[] = [];
  /** Complete unlock: data batches x_t from the orchestrator. */
  readonly input: InputMessage[] = [];
  stopRequested = false;
  private wake: (() => void) | null = null;

  pushForward(message: ForwardMessage): void {
    this.forward.push(message);
    this.notify();
  }

  pushBackward(message: BackwardMessage): void {
    this.backward.push(message);
    this.notify();
  }

  pushInput(message: InputMessage): void {
    this.input.push(message);
    this.notify();
  }

  requestStop(): void {
    this.stopRequested = true;
    this.notify();
  }

  /** Drops queued messages of these steps. */
  discard(steps: Set<number>): void {
    for (const queue of [this.forward, this.backward, this.input] as { step: number; eval?: unknown }[][]) {
      for (let i = queue.length - 1; i >= 0; i--) if (steps.has(queue[i].step) && !queue[i].eval) queue.splice(i, 1);
    }
  }

  /** Resolves when anything arrives. */
  next(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
