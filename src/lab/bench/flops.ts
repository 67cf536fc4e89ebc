import { BatchNorm, Dense, type Layer } from '../../model/index.js';
import { synthesizerOf, type GradientSource } from '../../stage/gradient/index.js';

/**
 * Multiply-add FLOPs (2 per multiply-add) of the matMuls of a stage for one batch of B rows.
 * For every dense layer n -> m:
 *   forward            y = x·W            2·B·n·m
 *   weight gradient    dW = xᵀ·dy         2·B·n·m
 *   input gradient     dx = dy·Wᵀ         2·B·n·m   (not for the network's first layer: stage 0 sends no δ down)
 * Synthesizer M (DNI/cDNI, not the last stage), input h (+ one-hot label for cDNI), same rules:
 *   predict (step 3)   its forward
 *   train (step 5)     its forward again + weight gradients + input gradients between its own layers
 * Elementwise work (bias, ReLU, BatchNorm, Adam, the loss) is left out: it is small next to the matMuls.
 */
export interface StageFlops {
  batch: number;
  forward: number;
  weightGradient: number;
  inputGradient: number;
  synthesizerPredict: number;
  synthesizerTrain: number;
  /** Layers that are not dense (conv, pool, ...) and so are not counted. */
  uncounted: string[];
}

export interface DenseCounts {
  forward: number;
  weightGradient: number;
  inputGradient: number;
  uncounted: string[];
}

/** The matMul FLOPs of a stack of layers; `needInputGrad` for the first layer (later ones always). */
export function denseFlops(layers: readonly Layer[], batch: number, needInputGrad: boolean): DenseCounts {
  const out: DenseCounts = { forward: 0, weightGradient: 0, inputGradient: 0, uncounted: [] };
  layers.forEach((layer, i) => {
    if (!(layer instanceof Dense)) {
      // BatchNorm is elementwise; a conv layer has matMul-like work this count does not cover
      if (!(layer instanceof BatchNorm) && layer.params.length > 0) out.uncounted.push(layer.name);
      return;
    }
    const mm = 2 * batch * layer.inputUnits * layer.outputUnits;
    out.forward += mm;
    out.weightGradient += mm;
    if (i > 0 || needInputGrad) out.inputGradient += mm;
  });
  return out;
}

/** The FLOPs of one stage (built: its layers and synthesizer) for a batch of `batch` rows. */
export function stageFlops(
  stage: { spec: { index: number }; net: { layers: readonly Layer[] }; source: GradientSource },
  batch: number,
): StageFlops {
  const net = denseFlops(stage.net.layers, batch, stage.spec.index > 0);
  const synthesizer = synthesizerOf(stage.source);
  const synth = synthesizer ? denseFlops(synthesizer.net.layers, batch, false) : null;
  const uncounted = [...net.uncounted, ...(synth?.uncounted ?? [])];
  return {
    batch,
    forward: net.forward,
    weightGradient: net.weightGradient,
    inputGradient: net.inputGradient,
    synthesizerPredict: synth?.forward ?? 0,
    synthesizerTrain: synth ? synth.forward + synth.weightGradient + synth.inputGradient : 0,
    uncounted,
  };
}

/**
 * FLOPs of a measured run, from the stage's counters, split by the call that does them.
 * forward (steps 1-4): every step's forward; an updated step's dW, dx and (DNI) ĝ prediction.
 * target (step 5): a synthesizer update trains M. A backprop stage below the top is update-locked
 * instead: its forward call only forwards, and the true gradient's call does dW and dx.
 */
export function phaseFlops(
  f: StageFlops,
  counts: { steps: number; updates: number; synthesizerUpdates: number },
  stage: { lockedBackprop: boolean; hasSynthesizer: boolean },
): { forward: number; target: number; total: number } {
  const backward = counts.updates * (f.weightGradient + f.inputGradient);
  const forward = counts.steps * f.forward + (stage.lockedBackprop ? 0 : backward + (stage.hasSynthesizer ? counts.updates * f.synthesizerPredict : 0));
  const target = (stage.lockedBackprop ? backward : 0) + counts.synthesizerUpdates * f.synthesizerTrain;
  return { forward, target, total: forward + target };
}
