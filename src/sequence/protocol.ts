import type { SequenceConfig } from './config.js';

/** One metrics.jsonl line of a sequence run. */
export interface SequenceRecord {
  step: number;
  /** Time steps trained per stream: step · T. */
  timeSteps: number;
  /** Mean window loss (nats summed over scored steps, mean over streams) since the last line. */
  loss: number;
  /** The task's figures: copy: length, solved, error (bits per sequence); char-lm: trainBpc. */
  [figure: string]: number | null;
  /** Means over the windows since the last line where M trained (null: bptt). */
  synthesizerLoss: number | null;
  synthesizerCosine: number | null;
  auxLoss: number | null;
  /** Seconds of training in this process (not in the deterministic figures). */
  seconds: number;
}

/** What the worker keeps besides the trainer, so a resumed run writes the same lines. */
export interface LogSums {
  windows: number;
  loss: number;
  synth: number;
  synthLoss: number;
  synthCosine: number;
  auxLoss: number;
}

export interface SequenceCheckpoint {
  trainer: unknown;
  log: LogSums;
}

export interface SequenceWorkerData {
  config: SequenceConfig;
  checkpoint: SequenceCheckpoint | null;
  /** Int32Array over it: [0] set to 1 asks the worker to stop after its window and checkpoint. */
  stop: SharedArrayBuffer;
  /** Tests: stop as if asked once this many windows are trained. */
  stopAfter: number | null;
}

export interface SequenceResult {
  backend: string;
  steps: number;
  stopped: boolean;
  figures: Record<string, number>;
  /** char-lm at the end of a finished run. */
  bpc: { valid: number; test: number; chars: number } | null;
  corpus: string | null;
  vocabulary: number | null;
}

export type SequenceWorkerMessage =
  | { type: 'record'; record: SequenceRecord }
  | { type: 'checkpoint'; step: number; checkpoint: SequenceCheckpoint }
  | { type: 'done'; result: SequenceResult };
