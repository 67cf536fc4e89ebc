/**
 * A sequence task: `batch` streams read side by side, one window of T steps at a time, each stream
 * contiguous across windows (no shuffling inside a stream), so the recurrent state carried from one
 * window to the next belongs to the same stream.
 */
export interface Window {
  steps: number;
  batch: number;
  /** [steps·batch, inputUnits], time-major: row t·batch + b is step t of stream b. */
  x: Float32Array;
  /** [steps·batch, outputUnits]: the target bits ('bits') or a one-hot class ('classes'). */
  y: Float32Array;
  /** [steps·batch]: 1 where the step's output is scored. */
  mask: Float32Array;
  /**
   * [steps·batch]: 0 where a stream starts a new episode (its state is reset to zero before that
   * step), 1 elsewhere; null for a stream with no episodes (text).
   */
  carry: Float32Array | null;
  /** Copy tasks, [steps·batch]: the episode's length where a stream's episode ends at that step, else 0. */
  ends?: Float32Array;
}

/** 'bits': independent sigmoid outputs (Copy); 'classes': one softmax over the outputs (characters). */
export type OutputKind = 'bits' | 'classes';

export interface SequenceTask {
  readonly name: string;
  readonly inputUnits: number;
  readonly outputUnits: number;
  readonly output: OutputKind;
  /** The next window of every stream. */
  next(steps: number): Window;
  /**
   * What the model's loss was on the window `next` last returned: nats per step and stream
   * ([steps·batch], zero where unscored). The task keeps its own figures (curriculum, error).
   */
  observe(window: Window, stepLoss: Float32Array): void;
  /** The task's figures for metrics.jsonl, e.g. { length: 5, solved: 4 }. */
  figures(): Record<string, number>;
  /** Everything needed to continue the streams exactly (JSON). */
  getState(): unknown;
  setState(state: unknown): void;
}

export const LN2 = Math.log(2);
