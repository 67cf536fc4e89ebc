import type { TraceEvent } from '../metrics/trace.js';
import type { StageMemory } from '../runtime/memory.js';
import type { AdapterInfo } from '../runtime/webgpu.js';

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
  /**
   * A flush marker (no data), passed up the chain in order with the batches: `pipelined` stages
   * may then apply every target still due, so the pipeline can drain.
   */
  marker?: true;
  /**
   * The gradient probe (train.probeEvery): a fixed batch that goes up in training mode without an
   * update; its true gradient comes back down (a BackwardMessage with `probe`) so that every stage
   * can compare the gradient its source would use with the true one. Step -1, like evaluation.
   */
  probe?: true;
}

/**
 * Complete unlock: the data batch x_t with its labels, sent by the orchestrator straight to a stage
 * above the first (as well as to stage 0), so the stage need not wait for h[s-1]_t.
 */
export interface InputMessage {
  kind: 'input';
  step: number;
  rows: number;
  activations: Float32Array;
  labels: Uint8Array;
}

/**
 * A stage's `done` for a step, passed down instead of reported: the last stage's work for a step
 * ends with the true gradient it sends down, so its done (with the batch loss) goes on that message
 * and the stage below reports it with its own: one message fewer to the orchestrator per step.
 */
export interface RelayedDone {
  stage: number;
  /** The last stage's batch loss, correct predictions and rows. */
  loss?: number;
  correct?: number;
  rows?: number;
}

/** The target for an earlier step: dL/dh (true) or J^T ĝ (synthetic); null when the sender skipped its update. */
export interface BackwardMessage {
  kind: 'backward';
  step: number;
  gradient: Float32Array | null;
  synthetic: boolean;
  /** The last stage's done for this step, for the receiver to report with its own. */
  done?: RelayedDone[];
  /**
   * The gradient probe coming down (step -1): `gradient` is the true dL/dh[s] of the probe batch,
   * `used` what the stage above sends down in training (feedback alignment: carried with its B),
   * `error` the last stage's output error e (what DFA projects).
   */
  probe?: true;
  used?: Float32Array | null;
  error?: Float32Array | null;
}

export type DataMessage = ForwardMessage | BackwardMessage;

/**
 * New ends of a restarted neighbour's links, as the transport makes them (MessagePorts between
 * threads); the stage loop hands them to its links unread.
 */
export type LinkEnds = Readonly<Record<string, unknown>>;

/** orchestrator -> stage */
export type ControlMessage =
  | { kind: 'stats' }
  | { kind: 'weights' }
  | { kind: 'stop' }
  /**
   * Write the stage's state to `file` (no batch is in flight). `inline`: send the encoded state
   * back in the `checkpointed` report instead (the orchestrator writes the file; stages on other
   * hosts need no shared filesystem).
   */
  | { kind: 'checkpoint'; file: string; step: number; inline?: boolean }
  /** A neighbour was restarted: use these link ends instead. */
  | { kind: 'rewire'; ends: LinkEnds }
  /** These steps were lost with a failed stage; `probe`: so was the gradient probe under way. */
  | { kind: 'abandon'; steps: number[]; probe?: true }
  /** Lower the stage thread's scheduling priority to this nice value (see priorities.ts). */
  | { kind: 'priority'; nice: number };

/** Where a stage's time went, in seconds (summary.json and bench.json carry the same fields). */
export interface StageTimes {
  stage: number;
  /** Wall clock: in steps (sends included), waiting for work, posting messages. */
  busySeconds: number;
  waitSeconds: number;
  sendSeconds: number;
  /**
   * Messages the stage sent while working (activations, targets, and its reports to the
   * orchestrator: done, evaluation results, logs), by this process of the stage, and the median
   * time one took; replies to control requests go out while receiving. With more
   * threads than cores, waking the receiver often hands it the sender's core mid-send, so
   * sendSeconds (wall clock) also counts time the sender waited to run again; sends × median is
   * what moving the messages took.
   */
  sends?: number;
  sendMedianMs?: number | null;
  /**
   * Receiving, outside busy and wait: after each action, taking the messages that arrived
   * meanwhile (deserialized, their buffers taken over, queued), straight from the links where they
   * can (MessagePorts), else in an event-loop turn (also every 16 actions for control messages);
   * how often, and the median. A message that wakes a waiting stage is received within its wait.
   */
  receiveSeconds?: number;
  receives?: number;
  receiveMedianMs?: number | null;
  /**
   * Within busy: waiting for tensors read to the CPU (activations, gradients, the loss, finiteness
   * checks; reads made together count once), and how many such waits. On webgpu the price of a
   * message: the GPU's work finishing and the copy back.
   */
  readSeconds?: number;
  reads?: number;
  /** The stage thread's CPU time, and its time waiting for a core, since the stage was ready to serve (Linux; absent elsewhere). */
  cpuSeconds?: number;
  runQueueSeconds?: number;
}

/** Counters a stage keeps. */
export interface StageStats extends StageTimes {
  /** Process RSS, live tensors and wasm heap, when the stats were taken. */
  memory?: StageMemory;
  updates: number;
  skippedUpdates: number;
  synthesizerUpdates: number;
  /**
   * Synthesizer steps that ran M forward again for their batch (a deeper M always does; a linear M
   * when it had taken other steps since its prediction); absent where no source counts them.
   */
  synthesizerRepredictions?: number;
  /** Targets dropped because the bounded cache was full. */
  evicted: number;
  droppedNonFinite: number;
  /** Incoming messages the stage refused, by reason (stages over NATS only). */
  rejected?: Record<string, number>;
  /** Means since the last stats request (null when no synthesizer step happened). */
  synthesizerLoss: number | null;
  synthesizerCosine: number | null;
  /** LSTM layers with a time synthesizer: its mean loss and cosine with its target since the last stats request. */
  timeSynthesizerLoss?: number | null;
  timeSynthesizerCosine?: number | null;
  /** Complete unlock: mean of I[s]'s loss ||I(x) - h[s-1]||^2 since the last stats request (null: none). */
  inputModelLoss?: number | null;
}

/**
 * A stage's failure as it reaches the orchestrator, the same over every transport (the thread's
 * task result, the `failed` message over NATS).
 */
export interface StageFailure {
  message: string;
  stack?: string;
  /** False when a restart would only repeat it (a NaN or Inf): the run stops. */
  retryable: boolean;
}

/** stage -> orchestrator */
export type ReportMessage =
  | { kind: 'ready'; stage: number; backend: string; adapter: AdapterInfo | null; skipped: { candidate: string; reason: string }[]; restoredStep: number | null }
  /** `state`: the encoded stage state, when the checkpoint was requested `inline`. */
  | { kind: 'checkpointed'; stage: number; step: number; file: string; bytes: number; state?: Uint8Array; /** The file could not be written: why (the stage itself is fine). */ error?: string }
  /** The stage now sends and listens on the link ends of a `rewire` message. */
  | { kind: 'rewired'; stage: number }
  | { kind: 'log'; stage: number; level: 'info' | 'warn' | 'debug'; msg: string; data?: Record<string, unknown> }
  /** The stage has finished all its work for a training step; the last stage adds the batch loss. */
  | {
      kind: 'done';
      stage: number;
      step: number;
      loss?: number;
      correct?: number;
      rows?: number;
      /** The batch was dropped for a non-finite value here; 'above': the stages above never get it. */
      dropped?: 'here' | 'above';
      /** Dones of stages above for the same step, which came down with their backward messages. */
      relayed?: RelayedDone[];
    }
  | { kind: 'eval'; stage: number; tag: EvalTag; lossSum: number; correct: number; rows: number }
  /** The gradient probe passed this stage: the cosine of its source's gradient with the true one (null: the last stage, whose gradient is the loss's). */
  | { kind: 'probe'; stage: number; cosine: number | null }
  /** Counters, and the trace spans recorded since the last request. */
  | { kind: 'stats'; stats: StageStats; trace: TraceEvent[]; traceDropped: number }
  /** The stage's parameters then its non-trainable state (BatchNorm running statistics), layer by layer. */
  | { kind: 'weights'; stage: number; values: Float32Array[] };
