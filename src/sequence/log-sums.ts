import type { LogSums } from './protocol.js';
import type { WindowRecord } from './trainer.js';

/** Sums of nothing yet. */
export function emptySums(): LogSums {
  return { windows: 0, loss: 0, synth: 0, synthLoss: 0, synthCosine: 0, auxLoss: 0 };
}

/** Adds one window's figures to the sums (M's only where it trained). */
export function addWindow(sums: LogSums, r: WindowRecord): void {
  sums.windows += 1;
  sums.loss += r.loss;
  if (r.synthesizer) {
    sums.synth += 1;
    sums.synthLoss += r.synthesizer.loss;
    sums.synthCosine += r.synthesizer.cosine;
    sums.auxLoss += r.synthesizer.auxLoss;
  }
}
