import * as tf from '@tensorflow/tfjs-core';
import type { BackwardMessage } from '../protocol.js';
import type { StageState } from '../stage-state.js';
import type { StageSpec } from '../stage-spec.js';
import { Synthesizer } from '../synthesizer.js';
import { oneHot } from '../loss.js';
import { stream } from '../rng.js';
import { learningRateAt } from '../learning-rate.js';
import { PendingMeans } from '../pending-means.js';
import type { GradientSource, ProbeInput, SourceGradient, SourceState, SourceStats, StageOutput } from './source.js';
import { keepRunningStatistics } from '../synthetic-input.js';

/** What step 5 needs of batch t: h[s]_t, c_t and the ĝ[s]_t that was applied. */
interface Pending {
  h: tf.Tensor;
  labels: tf.Tensor2D | null;
  used: tf.Tensor;
  /** M's version when it predicted `used`. */
  version: number;
}

/**
 * DNI / cDNI: ĝ[s]_t = M[s](h[s]_t, c_t) now (step 3); the target that comes from above later
 * trains M[s] (step 5). Batches wait for their targets in a bounded cache: the oldest is evicted.
 */
/** What DNI and BP(λ) share: M[s], its learning rate, its per-step loss and cosine, its checkpoint. */
export abstract class SynthesizerSource {
  readonly synthesizer: Synthesizer;
  /** M[s]'s loss and cosine per step, read without waiting. */
  protected readonly steps = new PendingMeans(['loss', 'cosine'] as const);

  constructor(
    protected readonly spec: StageSpec,
    conditioned: boolean,
  ) {
    this.synthesizer = stageSynthesizer(spec, conditioned);
  }

  /** M[s]'s prediction for the probe batch, BatchNorm's running statistics kept as they were. */
  protected predictOnly(h: tf.Tensor, labels: Uint8Array, conditioned: boolean): tf.Tensor {
    const oneHotLabels = conditioned ? oneHot(labels, this.spec.classes) : null;
    const predicted = keepRunningStatistics(this.synthesizer.net, () => this.synthesizer.predict(h, oneHotLabels));
    oneHotLabels?.dispose();
    return predicted;
  }

  setLearningRate(step: number): void {
    const { learningRate, decaySteps, decayFactor } = this.spec.optimizer;
    this.synthesizer.learningRate = learningRateAt(step, this.spec.synthesizer.learningRate ?? learningRate, decaySteps, decayFactor);
  }

  async takeStats(): Promise<SourceStats> {
    const { loss, cosine } = await this.steps.take();
    return { synthesizerLoss: loss, synthesizerCosine: cosine };
  }

  async exportState(): Promise<SourceState> {
    return { synthesizer: await exportSynthesizer(this.synthesizer) };
  }

  /** The counters this source keeps, M[s]'s steps among them. */
  abstract readonly counters: { synthesizerUpdates: number; synthesizerRepredictions: number };

  /** One step of M[s] toward `target` (see Synthesizer.train), counted: a step, and whether M ran forward again. */
  protected trainSynthesizer(h: tf.Tensor, labels: tf.Tensor2D | null, target: tf.Tensor, used: tf.Tensor, prediction?: tf.Tensor): void {
    this.steps.add(this.synthesizer.train(h, labels, target, used, prediction));
    this.counters.synthesizerUpdates += 1;
    if (this.synthesizer.predictsAgain(prediction)) this.counters.synthesizerRepredictions += 1;
  }

  /** M[s] and its step counters from a checkpoint. */
  protected importSynthesizerState(state: StageState): void {
    importSynthesizer(this.synthesizer, state);
    this.counters.synthesizerUpdates = state.counters.synthesizerUpdates ?? 0;
    this.counters.synthesizerRepredictions = state.counters.synthesizerRepredictions ?? 0;
  }
}

export class Synthesized extends SynthesizerSource implements GradientSource {
  readonly awaited = false;
  readonly expectsMessage = true;
  readonly synthetic = true;
  readonly targetBelow = true;
  readonly broadcastsError = false;
  readonly counters = { synthesizerUpdates: 0, synthesizerRepredictions: 0, evicted: 0 };
  private readonly pending = new Map<number, Pending>();
  private readonly conditioned: boolean;

  constructor(spec: StageSpec) {
    super(spec, spec.mode === 'cdni');
    this.conditioned = spec.mode === 'cdni';
  }

  wait(): void {
    throw new Error('a stage with a synthesizer does not wait for its gradient');
  }

  probe(input: ProbeInput): tf.Tensor {
    return this.predictOnly(input.h, input.labels, this.conditioned);
  }

  get holding(): number {
    return this.pending.size;
  }

  async gradient(output: StageOutput): Promise<SourceGradient> {
    const labels = this.conditioned ? oneHot(output.labels, this.spec.classes) : null;
    const dy = this.synthesizer.predict(output.h, labels);
    labels?.dispose();
    return { dy };
  }

  keep(output: StageOutput, used: tf.Tensor): void {
    const labels = this.conditioned ? oneHot(output.labels, this.spec.classes) : null;
    this.pending.set(output.step, { h: output.h, labels, used, version: this.synthesizer.version });
    if (this.pending.size > this.spec.cacheSize) {
      const oldest = this.pending.keys().next().value as number;
      this.release(oldest);
      this.counters.evicted += 1;
    }
  }

  /** Step 5: the target for an earlier batch trains M[s]. */
  receive(message: BackwardMessage): null {
    const pending = this.pending.get(message.step);
    if (pending && message.gradient) {
      const target = tf.tensor(message.gradient, pending.h.shape);
      // M's own prediction for the batch, if M has not changed since it made it (always in lockstep)
      const prediction = pending.version === this.synthesizer.version ? pending.used : undefined;
      this.trainSynthesizer(pending.h, pending.labels, target, pending.used, prediction);
      target.dispose();
    }
    this.release(message.step);
    return null;
  }

  forget(steps: Set<number>): void {
    for (const step of steps) this.release(step);
  }

  importState(state: StageState): void {
    this.importSynthesizerState(state);
    this.counters.evicted = state.counters.evicted ?? 0;
  }

  dispose(): void {
    for (const step of [...this.pending.keys()]) this.release(step);
    this.synthesizer.dispose();
  }

  private release(step: number): void {
    const p = this.pending.get(step);
    if (p) tf.dispose([p.h, p.labels ?? [], p.used]);
    this.pending.delete(step);
  }
}

/** M[s] of a stage, as its spec describes it (seeded per stage: the same M[s] in dni and bp-lambda). */
export function stageSynthesizer(spec: StageSpec, conditioned: boolean): Synthesizer {
  const { learningRate, beta1, beta2, epsilon } = spec.optimizer;
  return new Synthesizer({
    shape: spec.outputShape,
    conditioned,
    classes: spec.classes,
    hiddenLayers: spec.synthesizer.hiddenLayers,
    batchNorm: spec.synthesizer.batchNorm,
    kernelSize: spec.synthesizer.kernelSize,
    learningRate: spec.synthesizer.learningRate ?? learningRate,
    beta1,
    beta2,
    epsilon,
    rng: stream(spec.seed, 'init', 'synthesizer', spec.index),
  });
}

export async function exportSynthesizer(synthesizer: Synthesizer): Promise<NonNullable<StageState['synthesizer']>> {
  return { weights: await synthesizer.net.getWeights(), optimizer: await synthesizer.optimizer.getState() };
}

/** Reads M[s] back from a checkpoint; throws when the state has none, or feedback matrices instead. */
export function importSynthesizer(synthesizer: Synthesizer, state: StageState): void {
  if (!state.synthesizer || state.feedback?.length) throw new Error('it was written for another mode (synthesizer present/absent)');
  synthesizer.net.setWeights(state.synthesizer.weights);
  synthesizer.optimizer.setState(state.synthesizer.optimizer);
}
