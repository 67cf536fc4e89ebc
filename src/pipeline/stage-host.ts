import type { ControlMessage, ForwardMessage, InputMessage, ReportMessage, StageStats } from '../stage/protocol.js';
import type { StageSpec } from '../stage/stage-spec.js';
import type { StageError } from './stage-error.js';

/** What a host tells the pipeline. */
export interface StageHostEvents {
  /** A report from the current instance of a stage. */
  report(message: ReportMessage): void;
  /** The current instance of stage `stage` failed (threw, exited, went silent). */
  failed(stage: number, error: StageError): void;
  /** The transport itself failed (e.g. stages did not join in time): the run cannot go on. */
  fail(error: Error): void;
  /** Messages between the stages may have been lost (e.g. the NATS server restarted); all is connected again. */
  interrupted?(why: string): void;
}

/** A host's part of summary.json's `transport`: stages in other processes, over a server. */
export interface HostDescription {
  kind: 'nats';
  /** 'spawn': local stage processes; 'join': stages started with synthgrad stage. */
  stages: 'spawn' | 'join';
  /** The server (without credentials). */
  server: string;
  localServer: boolean;
  runId: string;
  /** Messages the orchestrator refused on the stages' report subjects, by reason. */
  rejected: Record<string, number>;
}

/**
 * Where stages run and how the orchestrator reaches them: the transport-specific part of the
 * pipeline. `ThreadStageHost` runs each stage in a piscina worker wired with MessagePorts;
 * `NatsStageHost` (src/transport/nats/) talks to stage processes over NATS.
 */
export interface StageHost {
  /**
   * Set when messages can be lost (at-most-once delivery): the pipeline then looks for batches
   * lost after an interruption (see LostSteps) and fails a run in which no stage has reported
   * anything for `stallTimeoutMs` while it waits on them.
   */
  readonly delivery?: { lossQuietMs: number; stallTimeoutMs: number };
  /** Starts one stage per spec (index order); each says 'ready' through `events.report`. */
  start(specs: StageSpec[], events: StageHostEvents): Promise<void>;
  /** Sends a batch (or a flush marker) into stage 0; the `transfer` buffers may move. */
  send(message: ForwardMessage, transfer?: ArrayBuffer[]): void;
  /**
   * Complete unlock: sends a data batch straight to stage `stage` (> 0). Hosts without it cannot
   * run configs with synthetic inputs (the config refuses them).
   */
  sendInput?(stage: number, message: InputMessage, transfer?: ArrayBuffer[]): void;
  /** Sends a control message to stage `stage`. */
  control(stage: number, message: ControlMessage): void;
  /** Each stage's final statistics once all have stopped (after 'stop'); rejects when one failed. */
  finished(): Promise<StageStats[]>;
  /**
   * Replaces the failed stage `spec.index` with a new instance built from `spec` and links its
   * neighbours to it. Returns how many 'rewired' reports the neighbours will send before the new
   * links are in use (0 when the links do not change).
   */
  replace(spec: StageSpec): number;
  /** What the host says of itself in the run's summary (absent: stages in this process's threads). */
  describe?(): HostDescription;
  /** Ends every stage at once and frees the transport; safe to call twice. */
  destroy(): Promise<void>;
}
