import type { ReportMessage } from '../stage/protocol.js';

type Done = Extract<ReportMessage, { kind: 'done' }>;

/**
 * How many of a step's `done` reports one report stands for: its stage's own (a batch dropped
 * before going up counts for the stages above too) and the dones it relays from stages above.
 */
export function doneCredit(message: Done, stages: number): number {
  return (message.dropped === 'above' ? stages - message.stage : 1) + (message.relayed?.length ?? 0);
}

/** The stages a `done` report finishes the step for: its own and those it relays. */
export function doneStages(message: Done): number[] {
  return [message.stage, ...(message.relayed ?? []).map((r) => r.stage)];
}

/** The last stage's batch figures in a `done` report, its own or relayed; null when it carries none. */
export function doneLoss(message: Done): { loss: number; correct: number; rows: number } | null {
  const d = [message, ...(message.relayed ?? [])].find((x) => x.loss !== undefined);
  return d ? { loss: d.loss!, correct: d.correct!, rows: d.rows! } : null;
}
