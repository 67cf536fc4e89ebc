/**
 * Messages between stages and the orchestrator. Activations and gradients travel as
 * Float32Array buffers that are moved (transferred), never cloned.
 */

/** Which evaluation pass a forward-only batch belongs to. */
export interface EvalTag {
  split: 'validation' | 'test';
  /** Index of the batch within the pass. */
  index: number;
}

/** h[s-1] for one batch, with its labels (cDNI conditions on them, the last stage needs them). */
export interface ForwardMessage {
  kind: 'forward';
  step: number;
  rows: number;
  activations: Float32Array;
  labels: Uint8Array;
  /** Present on forward-only evaluation batches. */
  eval?: EvalTag;
}

/** The target for an earlier step: dL/dh (true) or J^T ĝ (synthetic); null when the sender skipped its update. */
export interface BackwardMessage {
  kind: 'backward';
  step: number;
  gradient: Float32Array | null;
  synthetic: boolean;
}

export type DataMessage = ForwardMessage | BackwardMessage;

/** orchestrator -> stage */
export type ControlMessage = { kind: 'stats' } | { kind: 'weights' } | { kind: 'stop' };

/** Counters a stage keeps; times in seconds. */
export interface StageStats {
  stage: number;
  busySeconds: number;
  waitSeconds: number;
  sendSeconds: number;
  updates: number;
  skippedUpdates: number;
  synthesizerUpdates: number;
  /** Means since the last stats request (null when no synthesizer step happened). */
  synthesizerLoss: number | null;
  synthesizerCosine: number | null;
}

/** stage -> orchestrator */
export type ReportMessage =
  | { kind: 'ready'; stage: number; backend: string; skipped: { candidate: string; reason: string }[] }
  | { kind: 'log'; stage: number; level: 'info' | 'warn' | 'debug'; msg: string; data?: Record<string, unknown> }
  /** The stage has finished all its work for a training step; the last stage adds the batch loss. */
  | { kind: 'done'; stage: number; step: number; loss?: number; correct?: number; rows?: number }
  | { kind: 'eval'; stage: number; tag: EvalTag; lossSum: number; correct: number; rows: number }
  | { kind: 'stats'; stats: StageStats }
  /** The stage's parameters then its non-trainable state (BatchNorm running statistics), layer by layer. */
  | { kind: 'weights'; stage: number; values: Float32Array[] };
