/**
 * Counts of durations in 1 µs buckets up to `limitMs` (and one bucket above), for a median that
 * costs nothing to keep: a stage times every message it sends, and the wall-clock total of those
 * times also counts the moments the sending thread lost its core (see StageStats.sendMedianMs).
 */
export class DurationHistogram {
  private readonly buckets: Uint32Array;
  private total = 0;

  constructor(private readonly limitMs = 5) {
    this.buckets = new Uint32Array(Math.round(limitMs * 1000) + 1);
  }

  add(ms: number): void {
    const i = Math.min(this.buckets.length - 1, Math.max(0, Math.floor(ms * 1000)));
    this.buckets[i] += 1;
    this.total += 1;
  }

  get count(): number {
    return this.total;
  }

  /** The median in ms (to 1 µs), or null when empty or when it lies above the limit. */
  median(): number | null {
    if (this.total === 0) return null;
    const half = this.total / 2;
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= half) return i === this.buckets.length - 1 ? null : (i + 0.5) / 1000;
    }
    return null;
  }
}
