/** Per-stage figures of a run. */
export interface StageSummary {
  stage: number;
  /** Global indices and descriptions of the layers this stage holds. */
  layers: string[];
  backend: string;
  busySeconds: number;
  waitSeconds: number;
  sendSeconds: number;
  updates: number;
  skippedUpdates: number;
  /** Mean synthesizer loss over the last epoch (null: no synthesizer). */
  synthesizerLoss: number | null;
  /** Mean cosine similarity of ĝ with the target that later arrived, over the last epoch. */
  synthesizerCosine: number | null;
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
  valAccuracy: number;
  valLoss: number;
  testAccuracy: number;
  testLoss: number;
  perStage: StageSummary[];
}
