import type { BackwardMessage, ForwardMessage, InputMessage } from '../stage/protocol.js';

const MAX_ABANDONED = 4096;

type Queued = { step: number; eval?: unknown; probe?: true };

/** A stage's queued messages, in arrival order per kind, and a way to wait for the next one. */
export class Inbox {
  readonly forward: ForwardMessage[] = [];
  readonly backward: BackwardMessage[] = [];
  /** Complete unlock: data batches x_t from the orchestrator. */
  readonly input: InputMessage[] = [];
  stopRequested = false;
  private wake: (() => void) | null = null;
  /** Training steps abandoned here: their messages that arrive late are dropped (bounded, oldest forgotten first). */
  private readonly abandoned = new Set<number>();

  pushForward(message: ForwardMessage): void {
    if (!message.eval && this.abandoned.has(message.step)) return;
    this.forward.push(message);
    this.notify();
  }

  pushBackward(message: BackwardMessage): void {
    if (this.abandoned.has(message.step)) return;
    this.backward.push(message);
    this.notify();
  }

  pushInput(message: InputMessage): void {
    if (this.abandoned.has(message.step)) return;
    this.input.push(message);
    this.notify();
  }

  requestStop(): void {
    this.stopRequested = true;
    this.notify();
  }

  /** Drops queued messages of these steps, and those that arrive later (a lost batch's stragglers). */
  discard(steps: Set<number>): void {
    for (const step of steps) {
      this.abandoned.add(step);
      if (this.abandoned.size > MAX_ABANDONED) this.abandoned.delete(this.abandoned.values().next().value as number);
    }
    this.drop((m) => steps.has(m.step) && !m.eval);
  }

  /** Drops the queued messages of a lost gradient probe (by its flag: flush markers have step -1 too). */
  discardProbe(): void {
    this.drop((m) => m.probe === true);
  }

  private drop(lost: (message: Queued) => boolean): void {
    for (const queue of [this.forward, this.backward, this.input] as Queued[][]) {
      for (let i = queue.length - 1; i >= 0; i--) if (lost(queue[i])) queue.splice(i, 1);
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
