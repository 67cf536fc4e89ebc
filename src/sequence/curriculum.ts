/**
 * The copy tasks' curriculum (Graves et al. 2014's tasks, grown as the DNI paper grows them): new
 * episodes have the current length; once the mean error of the last `window` episodes of that length
 * is below `threshold` (bits per sequence), that length counts as solved and the length grows by one.
 */
export interface CurriculumOptions {
  /** Bits per sequence; 0.15 by default. */
  threshold: number;
  /** Episodes averaged; 64 by default. */
  window: number;
  /** The first length. */
  start: number;
}

export interface CurriculumState {
  length: number;
  solved: number;
  recent: number[];
}

export class Curriculum {
  length: number;
  /** The largest length solved so far (0: none). */
  solved = 0;
  private recent: number[] = [];

  constructor(private readonly options: CurriculumOptions) {
    if (!(options.threshold > 0)) throw new Error(`curriculum threshold must be positive, got ${options.threshold}`);
    if (!Number.isInteger(options.window) || options.window < 1) throw new Error(`curriculum window must be a positive integer, got ${options.window}`);
    this.length = options.start;
  }

  /** An episode of `length` ended with `bits` of error. Episodes of an earlier length are ignored. */
  record(length: number, bits: number): void {
    if (length !== this.length) return;
    this.recent.push(bits);
    if (this.recent.length > this.options.window) this.recent.shift();
    if (this.recent.length === this.options.window && this.meanError() < this.options.threshold) {
      this.solved = this.length;
      this.length += 1;
      this.recent = [];
    }
  }

  /** Mean bits per sequence over the recent episodes of the current length (NaN: none yet). */
  meanError(): number {
    return this.recent.length ? this.recent.reduce((a, b) => a + b, 0) / this.recent.length : NaN;
  }

  getState(): CurriculumState {
    return { length: this.length, solved: this.solved, recent: [...this.recent] };
  }

  setState(state: CurriculumState): void {
    this.length = state.length;
    this.solved = state.solved;
    this.recent = [...state.recent];
  }
}
