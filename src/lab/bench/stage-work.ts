import type { Config } from '../../config/schema.js';
import { Stage } from '../../stage/stage.js';
import { stageSpecs } from '../../stage/stage-spec.js';
import { effectiveWindow } from '../../train.js';
import { stageFlops, type ConvShape } from './flops.js';

/** What one stage of a configuration computes per training step, for its GFLOP/s in the bench. */
export interface StageWork {
  /**
   * Matmul and conv FLOPs of a step that updates (forward, dW, dx, the synthesizer's predict and
   * train): every step at update probability 1; null otherwise (the counts vary).
   */
  flopsPerStep: number | null;
  /** What each synthesizer step that predicts again adds (the run's synthesizerRepredictions count them). */
  repredictFlops?: number;
  /** Its largest conv layer (own or synthesizer's), whose conv2d is its ceiling; null: a matMul is. */
  largestConv: ConvShape | null;
}

/**
 * The work per step of every stage of `config` (built once on the current backend to count its
 * layers, then disposed).
 */
export function stageWork(config: Config): StageWork[] {
  const links = { forward() {}, backward() {}, report() {} };
  return stageSpecs(config, effectiveWindow(config)).map((spec) => {
    const stage = new Stage(spec, links);
    try {
      const f = stageFlops(stage, config.train.batchSize);
      const total = f.forward + f.weightGradient + f.inputGradient + f.synthesizerPredict + f.synthesizerTrain;
      return { flopsPerStep: config.train.updateProbability === 1 ? total : null, repredictFlops: f.synthesizerRepredict, largestConv: f.largestConv };
    } finally {
      stage.dispose();
    }
  });
}

/** The largest conv layer of all the stages (the one conv ceiling the bench measures), or null. */
export function largestConvOf(work: readonly StageWork[][]): ConvShape | null {
  return work.flat().reduce<ConvShape | null>((a, w) => (w.largestConv && (!a || w.largestConv.flops > a.flops) ? w.largestConv : a), null);
}
