import type { StageMemory } from '../runtime/memory.js';
import type { StageTimes } from '../stage/protocol.js';
import type { HostDescription } from '../pipeline/stage-host.js';

/** Per-stage figures of a run. */
export interface StageSummary extends StageTimes {
  /** Global indices and descriptions of the layers this stage holds. */
  layers: string[];
  backend: string;
  updates: number;
  skippedUpdates: number;
  /** Synthesizer steps that ran M forward again for their batch (see StageStats). */
  synthesizerRepredictions?: number;
  /** Batches this stage dropped for a NaN or Inf (with skipNonFinite). */
  droppedNonFinite: number;
  /** Mean synthesizer loss over the last epoch (null: no synthesizer). */
  synthesizerLoss: number | null;
  /** Mean cosine similarity of ĝ with the target that later arrived, over the last epoch. */
  synthesizerCosine: number | null;
  /** train.probeEvery: mean cosine of the gradient the stage's source would use with the true one, over this process's probes (null: the last stage). */
  gradientCosine?: number | null;
  /** train.probeEvery: probes taken by this process. */
  gradientProbes?: number;
  /** Memory after the first epoch and at the end (a leak shows as growth between them). */
  memory?: { firstEpoch: StageMemory | null; end: StageMemory | null };
  /** The nice value the stage's thread was given (train.priorities 'auto'); absent when left alone. */
  nice?: number;
  /** Complete unlock, stages above the first: mean loss of the input model I[s] over the last epoch. */
  inputModelLoss?: number | null;
  /** readSeconds per training step of the run, in milliseconds (evaluation reads included). */
  readMsPerStep?: number | null;
  /** Stages over NATS: incoming messages the stage refused, by reason (sender, decode, invalid, oversized, shape, step, ...). */
  rejected?: Record<string, number>;
}

/** How the stages were reached, when not by worker threads. */
export interface TransportSummary extends HostDescription {
  /** Times the NATS server (or a stage's connection to it) went away and came back. */
  interruptions: number;
  /** Training batches lost in transit then, abandoned at every stage (also counted in lostSteps). */
  lostInTransit: number;
  /** Evaluation batches and requests sent again because their answers were lost. */
  resent: number;
}

/** The first evaluation (an epoch end, or mid-epoch with train.evalEvery) whose test accuracy reached a milestone. */
export interface AccuracyReached {
  epoch: number;
  step: number;
  /** Wall seconds since this process started the run (evaluations included). */
  elapsedSeconds: number;
}

/** summary.json */
export interface Summary {
  runId: string;
  outDir: string;
  preset: string | null;
  mode: string;
  schedule: string;
  window: number;
  backend: string;
  stages: number;
  epochs: number;
  steps: number;
  batchSize: number;
  wallSeconds: number;
  trainSeconds: number;
  trainSamplesPerSecond: number;
  valAccuracy: number | null;
  valLoss: number | null;
  testAccuracy: number | null;
  testLoss: number | null;
  /** True when the run was interrupted (Ctrl-C, SIGTERM) or failed; it can be resumed. */
  stopped: boolean;
  /** Why a run failed, when it did. */
  error?: string;
  /** Stage failures survived by restarting the stage. */
  restarts: number;
  /** Training batches lost with failed stages or in transit (transport.lostInTransit). */
  lostSteps: number;
  /** Step of the last complete checkpoint (null: none yet). */
  checkpointStep: number | null;
  /** Step this run continued from (--resume). */
  resumedFrom: number | null;
  /**
   * Time to accuracy: for test accuracy 0.95, 0.97 and 0.98, the first evaluation that reached it
   * (an epoch end, or every train.evalEvery steps), with its step and the wall seconds since this
   * process started the run (null: not reached).
   */
  testAccuracyReached: Record<string, AccuracyReached | null>;
  perStage: StageSummary[];
  /** Stages over NATS (absent for worker threads). */
  transport?: TransportSummary;
}
