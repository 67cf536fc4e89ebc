import type { Corpus } from './corpus.js';
import { LN2, type SequenceTask, type Window } from './task.js';

/**
 * The one-hot windows of `batch` contiguous streams through a text: stream b reads the b-th of
 * `batch` equal segments, from its start, window after window; a stream that reaches its segment's
 * end starts it again. Input: the character at step t; target: the one after it.
 */
export class TextStreams {
  readonly batch: number;
  private readonly segment: number;
  private readonly positions: number[];

  constructor(
    private readonly text: Uint8Array,
    private readonly classes: number,
    batch: number,
  ) {
    this.segment = Math.floor((text.length - 1) / batch);
    if (this.segment < 1) throw new Error(`char-lm: a split of ${text.length} characters is too short for ${batch} streams`);
    this.batch = batch;
    this.positions = new Array<number>(batch).fill(0);
  }

  /** Windows that cover every stream's segment once (the last one may be short). */
  windowsPerPass(steps: number): number {
    return Math.ceil(this.segment / steps);
  }

  next(steps: number): Window {
    const { batch, classes } = this;
    const x = new Float32Array(steps * batch * classes);
    const y = new Float32Array(steps * batch * classes);
    const mask = new Float32Array(steps * batch).fill(1);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < steps; t++) {
        if (this.positions[b] === this.segment) this.positions[b] = 0;
        const at = b * this.segment + this.positions[b];
        const row = t * batch + b;
        x[row * classes + this.text[at]] = 1;
        y[row * classes + this.text[at + 1]] = 1;
        this.positions[b] += 1;
      }
    }
    return { steps, batch, x, y, mask, carry: null };
  }

  /** Moves every stream on by `steps` characters, as `steps` steps of next() would. */
  advance(steps: number): void {
    this.positions.forEach((p, b) => (this.positions[b] = (p + steps) % this.segment));
  }

  getState(): number[] {
    return [...this.positions];
  }

  setState(positions: number[]): void {
    if (!Array.isArray(positions) || positions.length !== this.batch) throw new Error(`char-lm: saved state has ${positions?.length} streams, this run has ${this.batch}`);
    positions.forEach((p, b) => (this.positions[b] = p));
  }
}

/** Character-level language modelling on the corpus's training split; the figure is bits per character. */
export class CharLmTask implements SequenceTask {
  readonly name = 'char-lm';
  readonly inputUnits: number;
  readonly outputUnits: number;
  readonly output = 'classes' as const;
  private readonly streams: TextStreams;
  private bits = 0;
  private chars = 0;

  constructor(
    readonly corpus: Corpus,
    batch: number,
  ) {
    this.inputUnits = corpus.vocabulary.length;
    this.outputUnits = corpus.vocabulary.length;
    this.streams = new TextStreams(corpus.train, corpus.vocabulary.length, batch);
  }

  next(steps: number): Window {
    return this.streams.next(steps);
  }

  /** Training bits per character since the last figures(). */
  observe(window: Window, stepLoss: Float32Array): void {
    for (let i = 0; i < stepLoss.length; i++) this.bits += stepLoss[i] / LN2;
    this.chars += window.steps * window.batch;
  }

  figures(): Record<string, number> {
    const bpc = this.chars ? this.bits / this.chars : NaN;
    this.bits = 0;
    this.chars = 0;
    return { trainBpc: bpc };
  }

  getState(): unknown {
    return { positions: this.streams.getState(), bits: this.bits, chars: this.chars };
  }

  setState(state: unknown): void {
    const st = state as { positions: number[]; bits: number; chars: number };
    this.streams.setState(st?.positions);
    this.bits = st.bits;
    this.chars = st.chars;
  }
}
