import { restoreStream, stream, type RandomStream, type StreamState } from '../stage/rng.js';
import { Curriculum, type CurriculumOptions, type CurriculumState } from './curriculum.js';
import { LN2, type SequenceTask, type Window } from './task.js';

export interface CopyOptions {
  /** 'copy': read L vectors, then write them; 'repeat-copy': read L vectors and a count R, write them R times, then an end flag. */
  variant: 'copy' | 'repeat-copy';
  batch: number;
  /** Width of each random binary vector (Graves et al. use 8). */
  bits: number;
  /** Repeat Copy: R is drawn uniformly from 1..maxRepeats. */
  maxRepeats: number;
  curriculum: CurriculumOptions;
  seed: number | string;
}

/** One episode of one stream, as flat per-step arrays. */
interface Episode {
  length: number;
  steps: number;
  x: number[];
  y: number[];
  mask: number[];
}

interface Stream {
  rng: RandomStream;
  episode: Episode | null;
  pos: number;
  /** Bits of error so far in the current episode. */
  cost: number;
}

interface CopyState {
  curriculum: CurriculumState;
  streams: { rng: StreamState; episode: Episode | null; pos: number; cost: number }[];
}

/**
 * Copy and Repeat Copy (Graves et al. 2014), as streams of episodes, one after another: each episode
 * starts from a zero state (Window.carry), so the gradient from the future is that of the episode's
 * own remaining steps, and a window may end inside an episode or span several. Inputs: `bits` data channels, a delimiter channel, and for Repeat
 * Copy a channel holding R / maxRepeats on the delimiter step. Outputs: `bits` channels, and for
 * Repeat Copy an end flag due on the step after the last repetition. Only the answer is scored.
 * The error of an episode is its cross-entropy in bits; the curriculum grows L from it.
 */
export class CopyTask implements SequenceTask {
  readonly name: string;
  readonly inputUnits: number;
  readonly outputUnits: number;
  readonly output = 'bits' as const;
  readonly curriculum: Curriculum;
  private readonly streams: Stream[];
  private readonly repeat: boolean;

  constructor(private readonly options: CopyOptions) {
    if (!Number.isInteger(options.bits) || options.bits < 1) throw new Error(`copy: bits must be a positive integer, got ${options.bits}`);
    if (!Number.isInteger(options.maxRepeats) || options.maxRepeats < 1) throw new Error(`copy: maxRepeats must be a positive integer, got ${options.maxRepeats}`);
    this.name = options.variant;
    this.repeat = options.variant === 'repeat-copy';
    this.inputUnits = options.bits + (this.repeat ? 2 : 1);
    this.outputUnits = options.bits + (this.repeat ? 1 : 0);
    this.curriculum = new Curriculum(options.curriculum);
    this.streams = Array.from({ length: options.batch }, (_, b) => ({ rng: stream(options.seed, 'data', options.variant, b), episode: null, pos: 0, cost: 0 }));
  }

  private episode(rng: RandomStream): Episode {
    const { bits, maxRepeats } = this.options;
    const length = this.curriculum.length;
    const repeats = this.repeat ? 1 + Math.floor(rng() * maxRepeats) : 1;
    const answer = repeats * length + (this.repeat ? 1 : 0);
    const steps = length + 1 + answer;
    const [nx, ny] = [this.inputUnits, this.outputUnits];
    const x = new Array<number>(steps * nx).fill(0);
    const y = new Array<number>(steps * ny).fill(0);
    const mask = new Array<number>(steps).fill(0);
    const data = Array.from({ length: length * bits }, () => (rng() < 0.5 ? 0 : 1));
    for (let t = 0; t < length; t++) for (let k = 0; k < bits; k++) x[t * nx + k] = data[t * bits + k];
    x[length * nx + bits] = 1;
    if (this.repeat) x[length * nx + bits + 1] = repeats / maxRepeats;
    for (let r = 0; r < repeats; r++) {
      for (let t = 0; t < length; t++) {
        const step = length + 1 + r * length + t;
        mask[step] = 1;
        for (let k = 0; k < bits; k++) y[step * ny + k] = data[t * bits + k];
      }
    }
    if (this.repeat) {
      mask[steps - 1] = 1;
      y[(steps - 1) * ny + bits] = 1;
    }
    return { length, steps, x, y, mask };
  }

  next(steps: number): Window {
    const batch = this.streams.length;
    const [nx, ny] = [this.inputUnits, this.outputUnits];
    const x = new Float32Array(steps * batch * nx);
    const y = new Float32Array(steps * batch * ny);
    const mask = new Float32Array(steps * batch);
    const carry = new Float32Array(steps * batch).fill(1);
    const ends = new Float32Array(steps * batch);
    this.streams.forEach((s, b) => {
      for (let t = 0; t < steps; t++) {
        if (!s.episode || s.pos === s.episode.steps) {
          s.episode = this.episode(s.rng);
          s.pos = 0;
        }
        const row = t * batch + b;
        const { episode, pos } = s;
        for (let k = 0; k < nx; k++) x[row * nx + k] = episode.x[pos * nx + k];
        for (let k = 0; k < ny; k++) y[row * ny + k] = episode.y[pos * ny + k];
        mask[row] = episode.mask[pos];
        if (pos === 0) carry[row] = 0;
        s.pos += 1;
        if (s.pos === episode.steps) ends[row] = episode.length;
      }
    });
    return { steps, batch, x, y, mask, carry, ends };
  }

  observe(window: Window, stepLoss: Float32Array): void {
    const { steps, batch } = window;
    this.streams.forEach((s, b) => {
      for (let t = 0; t < steps; t++) {
        const row = t * batch + b;
        s.cost += stepLoss[row] / LN2;
        const ended = window.ends?.[row] ?? 0;
        if (ended > 0) {
          this.curriculum.record(ended, s.cost);
          s.cost = 0;
        }
      }
    });
  }

  figures(): Record<string, number> {
    return { length: this.curriculum.length, solved: this.curriculum.solved, error: this.curriculum.meanError() };
  }

  getState(): CopyState {
    return {
      curriculum: this.curriculum.getState(),
      streams: this.streams.map((s) => ({ rng: s.rng.state(), episode: s.episode, pos: s.pos, cost: s.cost })),
    };
  }

  setState(state: unknown): void {
    const st = state as CopyState;
    if (!st || !Array.isArray(st.streams) || st.streams.length !== this.streams.length) {
      throw new Error(`copy: saved state has ${(st?.streams ?? []).length} streams, this run has ${this.streams.length}`);
    }
    this.curriculum.setState(st.curriculum);
    st.streams.forEach((s, b) => {
      this.streams[b] = { rng: restoreStream(s.rng), episode: s.episode, pos: s.pos, cost: s.cost };
    });
  }
}
