import { BatchNorm, ConditionedConv2D, Conv2D, Dense, type Layer } from '../../model/index.js';
import { synthesizerOf, type GradientSource } from '../../stage/gradient/index.js';

/**
 * Multiply-add FLOPs (2 per multiply-add) of the matMuls and convolutions of a stage for one batch
 * of B rows. For every dense layer n -> m (for a conv layer, n·m is Ho·Wo·F·k²·C: its output
 * positions times a k x k x C window times F filters, the same for each of the three):
 *   forward            y = x·W            2·B·n·m
 *   weight gradient    dW = xᵀ·dy         2·B·n·m
 *   input gradient     dx = dy·Wᵀ         2·B·n·m   (not for the network's first layer: stage 0 sends no δ down)
 * (A conditioned conv, the first layer of a cDNI conv synthesizer, convolves h's channels only: see
 * layerFlops.)
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
  /** A synthesizer step: dW (and dx), and the forward pass for a deeper M, which always predicts again. */
  synthesizerTrain: number;
  /** What a linear M's step adds when it predicts again (its forward pass; counted per such step: synthesizerRepredictions). */
  synthesizerRepredict: number;
  /** Layers with parameters that are neither dense nor conv (so not counted). */
  uncounted: string[];
  /** The conv layer of the stage or its synthesizer with the most forward FLOPs (for a conv ceiling), or null. */
  largestConv: ConvShape | null;
}

export interface DenseCounts {
  forward: number;
  weightGradient: number;
  inputGradient: number;
  uncounted: string[];
  largestConv: ConvShape | null;
}

/** A conv layer's shapes: per-example input [h, w, c], k x k kernels, filters, stride, padding. */
export interface ConvShape {
  inputShape: number[];
  kernelSize: number;
  filters: number;
  stride: number;
  padding: 'same' | 'valid';
  /** Forward FLOPs per example. */
  flops: number;
}

/**
 * 2·(multiply-adds) of a batch through a dense or conv layer (forward; the weight and input
 * gradients cost the same), or null for another kind. A conditioned conv (ConditionedConv2D)
 * convolves h's channels only, then adds each example's class response (c·R, 2·classes per
 * output value); its per-class responses R cost a convolution of `classes` images of `classes`
 * channels per batch, forward and in the weight gradient (where D = cᵀ·dz adds the c·R product
 * again); its input gradient is h's only.
 */
function layerFlops(layer: Layer, batch: number): { forward: number; weightGradient: number; inputGradient: number; convPerExample?: number } | null {
  if (layer instanceof Dense) {
    const mm = 2 * batch * layer.inputUnits * layer.outputUnits;
    return { forward: mm, weightGradient: mm, inputGradient: mm };
  }
  if (layer instanceof ConditionedConv2D) {
    const [ho, wo, f] = layer.outputShape;
    const k2 = layer.kernelSize * layer.kernelSize;
    const conv = 2 * batch * ho * wo * f * k2 * layer.channels;
    const perClass = 2 * batch * ho * wo * f * layer.classes;
    const responses = 2 * layer.classes * ho * wo * f * k2 * layer.classes;
    return { forward: conv + perClass + responses, weightGradient: conv + perClass + responses, inputGradient: conv, convPerExample: conv / batch };
  }
  if (layer instanceof Conv2D) {
    const [ho, wo, f] = layer.outputShape;
    const mm = 2 * batch * ho * wo * f * layer.kernelSize * layer.kernelSize * layer.inputShape[2];
    return { forward: mm, weightGradient: mm, inputGradient: mm, convPerExample: mm / batch };
  }
  return null;
}

/** The matMul and conv FLOPs of a stack of layers; `needInputGrad` for the first layer (later ones always). */
export function denseFlops(layers: readonly Layer[], batch: number, needInputGrad: boolean): DenseCounts {
  const out: DenseCounts = { forward: 0, weightGradient: 0, inputGradient: 0, uncounted: [], largestConv: null };
  layers.forEach((layer, i) => {
    const flops = layerFlops(layer, batch);
    if (flops === null) {
      // BatchNorm is elementwise, pooling and reshapes have no parameters
      if (!(layer instanceof BatchNorm) && layer.params.length > 0) out.uncounted.push(layer.name);
      return;
    }
    // the convolution itself (a conditioned conv's label work aside) ranks the conv layers
    const perExample = flops.convPerExample ?? 0;
    if (layer instanceof Conv2D && perExample > (out.largestConv?.flops ?? 0)) {
      const { kernelSize, filters, stride, padding } = layer;
      // a conditioned conv's convolution runs on h's channels
      const inputShape = layer instanceof ConditionedConv2D ? layer.hShape : [...layer.inputShape];
      out.largestConv = { inputShape, kernelSize, filters, stride, padding, flops: perExample };
    }
    out.forward += flops.forward;
    out.weightGradient += flops.weightGradient;
    if (i > 0 || needInputGrad) out.inputGradient += flops.inputGradient;
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
  const convs = [net.largestConv, synth?.largestConv ?? null].filter((c): c is ConvShape => c !== null);
  return {
    batch,
    forward: net.forward,
    weightGradient: net.weightGradient,
    inputGradient: net.inputGradient,
    synthesizerPredict: synth?.forward ?? 0,
    // a linear M steps from its prediction unless it has moved on since (the stage counts those steps)
    synthesizerTrain: synth ? (synthesizer!.stepsFromPrediction ? 0 : synth.forward) + synth.weightGradient + synth.inputGradient : 0,
    synthesizerRepredict: synth && synthesizer!.stepsFromPrediction ? synth.forward : 0,
    uncounted,
    largestConv: convs.reduce<ConvShape | null>((a, c) => (a && a.flops >= c.flops ? a : c), null),
  };
}

/**
 * FLOPs of a measured run, from the stage's counters, split by the call that does them.
 * forward (steps 1-4): every step's forward; an updated step's dW, dx and (DNI) ĝ prediction.
 * target (step 5): a synthesizer update trains M (and runs it forward again where it counted so). A backprop stage below the top is update-locked
 * instead: its forward call only forwards, and the true gradient's call does dW and dx.
 */
export function phaseFlops(
  f: StageFlops,
  counts: { steps: number; updates: number; synthesizerUpdates: number; synthesizerRepredictions?: number },
  stage: { lockedBackprop: boolean; hasSynthesizer: boolean },
): { forward: number; target: number; total: number } {
  const backward = counts.updates * (f.weightGradient + f.inputGradient);
  const forward = counts.steps * f.forward + (stage.lockedBackprop ? 0 : backward + (stage.hasSynthesizer ? counts.updates * f.synthesizerPredict : 0));
  const target = (stage.lockedBackprop ? backward : 0) + counts.synthesizerUpdates * f.synthesizerTrain + (counts.synthesizerRepredictions ?? 0) * f.synthesizerRepredict;
  return { forward, target, total: forward + target };
}
