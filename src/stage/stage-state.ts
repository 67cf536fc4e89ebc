import { Packr } from 'msgpackr';
import type { StreamState } from './rng.js';

/** Everything a stage needs to continue where it stopped. Written by the stage's own worker. */
export interface StageState {
  format: 'synthgrad-stage/1';
  stage: number;
  /** Index of the next training step the stage expects (all earlier steps are finished). */
  step: number;
  /** Names of the stage's layers, checked on restore. */
  layers: string[];
  weights: Float32Array[];
  optimizer: Float32Array[];
  synthesizer: { weights: Float32Array[]; optimizer: Float32Array[] } | null;
  /** Feedback alignment (fa, dfa): the stage's fixed random feedback matrices (absent in other modes). */
  feedback?: Float32Array[] | null;
  /** Complete unlock: the input model I[s] and its Adam (absent in files written before it existed). */
  inputModel?: { weights: Float32Array[]; optimizer: Float32Array[] } | null;
  updateStream: StreamState;
  counters: Record<string, number>;
}

const packr = new Packr({ useRecords: false, moreTypes: true });

export function encodeStageState(state: StageState): Uint8Array {
  return packr.pack(state);
}

/** Decodes and checks the shape of a stage file; `file` names it in errors. */
export function decodeStageState(bytes: Uint8Array, file: string): StageState {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (error) {
    throw new Error(`${file}: not a synthgrad stage checkpoint (${(error as Error).message})`);
  }
  const state = value as Partial<StageState>;
  if (!state || state.format !== 'synthgrad-stage/1') throw new Error(`${file}: not a synthgrad stage checkpoint (format ${String(state?.format)})`);
  const arrays = [...(state.weights ?? []), ...(state.optimizer ?? [])];
  if (!arrays.every((a) => a instanceof Float32Array)) throw new Error(`${file}: weights are not float32 arrays`);
  return state as StageState;
}
