/**
 * Which training batches were lost when the transport dropped messages (a NATS server restart:
 * core NATS delivers at most once). Pure bookkeeping by step number, no timers of its own.
 *
 * After an interruption every step then in flight is a suspect: some message of it (a batch, a
 * target, a `done` report) may be gone. A suspect is declared lost
 * - by step number, as soon as a later step has been finished by every stage: each link delivers
 *   in order and each stage works through its batches and targets in order, so the earlier step's
 *   messages would have arrived first;
 * - by silence, when no step finished for `quietMs` after the interruption: nothing is moving it
 *   (with one batch in flight, as in lockstep, nothing later can overtake it).
 * A step taken for lost that was only slow costs one batch, never correctness: abandoning works
 * the same for a batch that is still travelling (its stragglers are dropped by every stage).
 */
type InFlight = { has(step: number): boolean };

export class LostSteps {
  private readonly suspects = new Set<number>();
  private since = 0;

  constructor(private readonly quietMs: number) {}

  /** Messages may have been lost just now: the steps in flight become suspects. */
  interrupted(inFlight: Iterable<number>, now: number): void {
    for (const step of inFlight) this.suspects.add(step);
    this.since = now;
  }

  /** `step` was finished by every stage; returns the suspects it proves lost (still in flight, older). */
  finished(step: number, inFlight: InFlight, now: number): number[] {
    this.suspects.delete(step);
    this.since = Math.max(this.since, now);
    return this.take(inFlight, step);
  }

  /** The suspects still in flight once nothing has finished for `quietMs`. */
  overdue(inFlight: InFlight, now: number): number[] {
    if (this.suspects.size === 0 || now - this.since < this.quietMs) return [];
    return this.take(inFlight, Infinity);
  }

  /** Suspects remaining (steps in flight during an interruption, not yet finished or declared lost). */
  get pending(): number {
    return this.suspects.size;
  }

  /** Suspects older than `before` still in flight are lost; those no longer in flight are forgotten. */
  private take(inFlight: InFlight, before: number): number[] {
    const lost: number[] = [];
    for (const step of [...this.suspects]) {
      if (!inFlight.has(step)) this.suspects.delete(step); // finished, or abandoned for another reason
      else if (step < before) {
        this.suspects.delete(step);
        lost.push(step);
      }
    }
    return lost.sort((a, b) => a - b);
  }
}
