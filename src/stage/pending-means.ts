/**
 * Means of per-step figures that arrive later: reads of tensors (the synthesizer's loss and
 * cosine, the input model's loss) that the stage does not wait for, so that on a GPU a step's
 * statistics do not hold up the next step. They are taken, complete, when statistics are asked for.
 */
export class PendingMeans<K extends string> {
  private sums = new Map<K, number>();
  private count = 0;
  private readonly reads = new Set<Promise<void>>();
  private failure: unknown = null;

  constructor(private readonly keys: readonly K[]) {}

  /** One step's figures, when they come. */
  add(figures: Promise<Record<K, number>>): void {
    const read: Promise<void> = figures.then(
      (values) => {
        for (const key of this.keys) this.sums.set(key, (this.sums.get(key) ?? 0) + values[key]);
        this.count += 1;
      },
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    this.reads.add(read);
    void read.finally(() => this.reads.delete(read));
  }

  /** The means since the last call (null: no step), once every figure added has come. */
  async take(): Promise<Record<K, number | null>> {
    await Promise.all(this.reads);
    if (this.failure !== null) {
      const failure = this.failure;
      this.failure = null;
      throw failure;
    }
    const n = this.count;
    const means = Object.fromEntries(this.keys.map((key) => [key, n ? this.sums.get(key)! / n : null])) as Record<K, number | null>;
    this.sums.clear();
    this.count = 0;
    return means;
  }
}
