import * as tf from '@tensorflow/tfjs-core';
import { Sequential, Adam, LstmLayer, buildLayers, type Trace } from '../model/index.js';
import { PendingMeans } from './pending-means.js';
import type { BackwardMessage, ForwardMessage, InputMessage, RelayedDone, ReportMessage } from './protocol.js';
import { isLast, type StageSpec } from './stage-spec.js';
import { isLockedMode } from '../config/schema.js';
import { gradientSource, type GradientSource, type StageOutput } from './gradient/index.js';
import { SyntheticInput, keepRunningStatistics } from './synthetic-input.js';
import { softmaxCrossEntropy, oneHot } from './loss.js';
import { stream, restoreStream, type RandomStream } from './rng.js';
import type { StageState } from './stage-state.js';
import type { StageStats } from './protocol.js';
import { learningRateAt } from './learning-rate.js';
import { NonFiniteError, allFinite, finiteData, firstNonFinite } from './non-finite.js';
import { ownedValues, readScalars } from '../runtime/read.js';

export { NonFiniteError };

/** tf.tidy for functions returning objects of tensors (they are kept; intermediates are freed). */
function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as () => tf.TensorContainer) as T;
}

/** Where a stage's results go: the stage above, the stage below, the orchestrator. */
export interface StageLinks {
  forward(message: ForwardMessage): void;
  backward(message: BackwardMessage): void;
  report(message: ReportMessage): void;
  /** DFA's last stage: the output error e of a batch, to every stage below. */
  error?(message: BackwardMessage): void;
}

/** A training batch: h[s-1]_t from below, or (complete unlock) x_t from the orchestrator. */
type TrainingBatch = ForwardMessage | InputMessage;

/** A backprop stage's batch waiting for its true gradient. */
interface Locked {
  step: number;
  trace: Trace[];
}

/** The counters a stage keeps (its gradient source keeps some of them). */
export type StageCounters = Pick<StageStats, 'updates' | 'skippedUpdates' | 'synthesizerUpdates' | 'synthesizerRepredictions' | 'evicted' | 'droppedNonFinite'>;

/**
 * One stage: layers f_s with their optimizer, and the source of its output gradient (the
 * synthesizer M[s] for DNI/cDNI, see ./gradient/). The methods are the steps of docs/dni.md; the stage
 * loop calls them in the order the schedule picks, one at a time (each awaited). They read tensors
 * asynchronously (src/runtime/read.ts): only what crosses the stage's boundary (activations up,
 * gradients down, the last stage's loss) comes to the CPU.
 */
export class Stage {
  readonly net: Sequential;
  readonly optimizer: Adam;
  /** Where dL/dh[s] comes from: the loss (last stage), the stage above (backprop), M[s] (DNI/cDNI). */
  readonly source: GradientSource;
  /** Complete unlock: I[s] and the data batches waiting for their real input. */
  readonly syntheticInput: SyntheticInput | null;
  /** Dones of stages above that came down with a step's backward message, until this stage reports its own. */
  private readonly relayedDones = new Map<number, RelayedDone[]>();
  private locked: Locked | null = null;
  /** The gradient probe's pass here, until its true gradient comes down. */
  private probing: { h: tf.Tensor; trace: Trace[]; labels: Uint8Array } | null = null;
  private updateDraw: RandomStream;
  private readonly last: boolean;
  private readonly own = { updates: 0, skippedUpdates: 0, droppedNonFinite: 0 };
  /** LSTM layers with a time synthesizer (DNI in time), and the means of its figures. */
  private readonly timeLayers: LstmLayer[];
  private readonly timeMeans = new PendingMeans(['loss', 'cosine'] as const);
  /** The last step dropped before its activations went up (no target will come for it). */
  lastDroppedBeforeSending = -1;
  /** Testing aid: turn this step's activations into NaN. */
  injectNaNAt = -1;

  constructor(
    readonly spec: StageSpec,
    private readonly links: StageLinks,
  ) {
    this.last = isLast(spec);
    const global = (i: number) => spec.firstLayer + i;
    const { layers } = buildLayers(spec.layers, spec.inputShape, (i) => stream(spec.seed, 'init', 'layer', global(i)), {
      name: (i) => `layer${global(i)}`,
    });
    this.net = new Sequential(layers);
    this.timeLayers = layers.filter((l): l is LstmLayer => l instanceof LstmLayer && l.synthesizer !== null);
    const { learningRate, beta1, beta2, epsilon } = spec.optimizer;
    this.optimizer = new Adam(this.net.params, { learningRate, beta1, beta2, epsilon });
    this.source = gradientSource(spec, this.net);
    this.syntheticInput = spec.syntheticInputs ? new SyntheticInput(spec) : null;
    this.updateDraw = stream(spec.seed, 'update', 'stage', spec.index);
  }

  get counters(): StageCounters {
    const { updates, skippedUpdates, droppedNonFinite } = this.own;
    return { updates, skippedUpdates, synthesizerUpdates: 0, evicted: 0, droppedNonFinite, ...this.source.counters };
  }

  /** A locked (backprop) stage that waits for the true gradient of the batch it sent. */
  get awaitingGradient(): boolean {
    return this.locked !== null;
  }

  /** Steps 1-4 for a training batch; forward only for an evaluation batch. */
  async forward(message: ForwardMessage): Promise<void> {
    if (message.marker) return void (this.last || this.links.forward(message));
    if (message.eval) return this.evaluate(message);
    if (message.probe) return this.probeForward(message);
    if (this.syntheticInput) return this.realInput(message);
    return this.train(message, this.inputOf(message), false);
  }

  /**
   * Complete unlock: steps 1-4 on the data batch x_t, with ĥ[s-1]_t = I[s](x_t) standing in for
   * h[s-1]_t, so the stage need not wait for the stages below. Its h[s]_t stays here: the real one
   * goes up when h[s-1]_t arrives (see realInput). The target δ[s-1]_t = J^T ĝ sent down is taken at ĥ.
   */
  input(message: InputMessage): Promise<void> {
    return this.train(message, this.syntheticInput!.predict(message), true);
  }

  /** Complete unlock: a training batch from below waits until the stage's own pass on its x_t. */
  ready(message: ForwardMessage): boolean {
    return this.syntheticInput?.ready(message) ?? true;
  }

  /** Steps 1-4 on the stage's input `x` for batch t (disposed here); `synthetic`: x is ĥ = I[s](x_t). */
  private async train(message: TrainingBatch, x: tf.Tensor2D, synthetic: boolean): Promise<void> {
    const { step } = message;
    this.setLearningRate(step);
    const update = this.drawUpdate();
    // 1. receive h[s-1]_t; 2. h[s]_t = f_s(h[s-1]_t), sent on at once
    const { y: h, trace } = this.pass(x, synthetic);
    if (!this.last && !synthetic && !(await this.sendUp(message as ForwardMessage, h, trace))) return;
    if (this.source.awaited) return this.lock(step, trace, { step, rows: message.rows, labels: message.labels, h });
    // not updating, and no stage below to send a target to: nothing more to do for t
    if (!update && this.spec.index === 0 && !this.last) return this.skip(step, trace, h);
    // 3. ĝ[s]_t = M[s](h[s]_t, c_t), or the last stage's true gradient of the loss
    const output: StageOutput = { step, rows: message.rows, labels: message.labels, h };
    const { dy, done: figures } = (await this.source.gradient(output))!;
    if (figures && !this.checkFinite([figures.loss], 'loss', step)) {
      tf.dispose([h, dy]);
      return this.drop(step, trace, null, 'here');
    }
    const done = figures && { stage: this.spec.index, ...figures };
    // DFA: the error goes to every stage below before this stage's own update
    if (this.source.broadcastsError) this.links.error!({ kind: 'backward', step, gradient: await ownedValues(dy), synthetic: false });
    // 4. one backward pass with it: update θ_s (when drawn), send δ[s-1]_t = J^T ĝ down as the
    // target of stage s-1 (the last stage's true gradient goes down even without an update: the
    // stage below trains its synthesizer on it, and reports this stage's done with its own)
    const applied = update || this.spec.index > 0 ? await this.applyGradient(step, trace, dy, update, done) : (this.skip(step, trace, null), true);
    // kept for step 5, until the target for t arrives; without an update of θ_s, M[s] does not train on t either
    if (applied && update && this.source.expectsMessage) this.source.keep(output, dy);
    else tf.dispose([h, dy]);
    if (applied && done && (this.spec.index === 0 || !this.source.targetBelow)) this.reportDone(step, done);
  }

  /** Step 2 on `x` (disposed): BatchNorm's running statistics follow the real inputs only, which evaluation sees. */
  private pass(x: tf.Tensor2D, synthetic: boolean): { y: tf.Tensor; trace: Trace[] } {
    const pass = () => tidy(() => this.net.forward(x, true));
    const out = synthetic ? keepRunningStatistics(this.net, pass) : pass();
    x.dispose();
    return out;
  }

  /** Sends h[s]_t up. False when it is not finite and the batch was dropped: the stages above never see step t. */
  private async sendUp(message: ForwardMessage, h: tf.Tensor, trace: Trace[]): Promise<boolean> {
    const activations = await this.activationsToSend(message.step, h);
    if (!activations) {
      this.drop(message.step, trace, h, 'above');
      return false;
    }
    this.sendForward(message, activations);
    return true;
  }

  /** An update-locked stage waits for the gradient of step t, keeping the trace of its pass (and h, if its source wants it). */
  private lock(step: number, trace: Trace[], output: StageOutput): void {
    this.locked = { step, trace };
    this.source.wait(output);
  }

  /**
   * Complete unlock: the real h[s-1]_t arrived. I[s] takes one step towards it, and f_s(h[s-1]_t)
   * (training mode, no update of θ_s) goes up as the real h[s]_t: the input the stage above learns
   * to predict, and the path evaluation takes.
   */
  private async realInput(message: ForwardMessage): Promise<void> {
    const x = this.inputOf(message);
    this.syntheticInput!.learn(message.step, x);
    if (!this.last) {
      const h = tf.tidy(() => this.net.forward(x, true).y);
      const activations = (await this.activationsToSend(message.step, h))!; // throws if not finite: skipNonFinite is refused with synthetic inputs
      this.sendForward(message, activations);
      h.dispose();
    }
    x.dispose();
    this.reportDone(message.step);
  }

  /** Step 5 (DNI): the target for an earlier batch trains the synthesizer. Backprop: the true gradient. */
  async backward(message: BackwardMessage): Promise<void> {
    if (message.probe) return this.probeBackward(message);
    if (message.done?.length) this.relayedDones.set(message.step, message.done); // one backward message per step
    if (this.source.awaited) return this.backwardLocked(message);
    this.source.receive(message, this.spec.outputShape);
    this.reportDone(message.step);
  }

  private async backwardLocked(message: BackwardMessage): Promise<void> {
    const locked = this.locked;
    if (!locked || locked.step !== message.step || !message.gradient) {
      throw new Error(`stage ${this.spec.index}: true gradient for step ${message.step} arrived while waiting for ${locked?.step ?? 'none'}`);
    }
    this.locked = null;
    const g = this.source.receive(message, this.spec.outputShape)!;
    const applied = await this.applyGradient(message.step, locked.trace, g);
    tf.dispose(g);
    if (applied) this.reportDone(message.step);
  }

  /** Forgets batches that were lost with a failed stage: their targets will never come. */
  abandon(steps: Set<number>): void {
    this.source.forget(steps);
    for (const step of steps) this.relayedDones.delete(step);
    this.syntheticInput?.abandon(steps);
    if (this.locked && steps.has(this.locked.step)) {
      tf.dispose(this.locked.trace);
      this.locked = null;
    }
  }

  /** Forgets the gradient probe's pass here (lost with a failed stage, or replaced by the next probe). */
  forgetProbe(): void {
    if (!this.probing) return;
    this.probing.h.dispose();
    tf.dispose(this.probing.trace);
    this.probing = null;
  }

  /** The stage's whole state, for a checkpoint taken when no batch is in flight. */
  async exportState(step: number, extra: Record<string, number>): Promise<StageState> {
    if (this.source.holding > 0 || this.locked || (this.syntheticInput?.waiting ?? 0) > 0) throw new Error(`stage ${this.spec.index}: checkpoint requested with batches in flight`);
    const input = this.syntheticInput?.model;
    return {
      format: 'synthgrad-stage/1',
      stage: this.spec.index,
      step,
      layers: this.net.layers.map((l) => l.name),
      weights: await this.net.getWeights(),
      optimizer: await this.optimizer.getState(),
      ...(await this.source.exportState()),
      inputModel: input ? { weights: await input.net.getWeights(), optimizer: await input.optimizer.getState() } : null,
      updateStream: this.updateDraw.state(),
      counters: { ...this.counters, ...extra },
    };
  }

  /** Continues from a state written by exportState of a stage built from the same spec. */
  importState(state: StageState): void {
    const layers = this.net.layers.map((l) => l.name);
    if (state.stage !== this.spec.index || state.layers.join() !== layers.join()) {
      throw new Error(
        `it holds stage ${state.stage} with layers [${state.layers.join(', ')}], expected stage ${this.spec.index} with [${layers.join(', ')}]`,
      );
    }
    this.source.importState(state);
    this.net.setWeights(state.weights);
    this.optimizer.setState(state.optimizer);
    if (!!state.inputModel !== !!this.syntheticInput) throw new Error('it was written for another config (synthetic inputs present/absent)');
    if (this.syntheticInput && state.inputModel) {
      this.syntheticInput.model.net.setWeights(state.inputModel.weights);
      this.syntheticInput.model.optimizer.setState(state.inputModel.optimizer);
    }
    this.updateDraw = restoreStream(state.updateStream);
    for (const key of Object.keys(this.own) as (keyof Stage['own'])[]) this.own[key] = state.counters[key] ?? 0;
  }

  /** The gradient source's statistics since the last call (the synthesizer's mean loss and cosine). */
  async takeSourceStats(): Promise<Pick<StageStats, 'synthesizerLoss' | 'synthesizerCosine' | 'timeSynthesizerLoss' | 'timeSynthesizerCosine'>> {
    const source = { synthesizerLoss: null, synthesizerCosine: null, ...(await this.source.takeStats()) };
    if (this.timeLayers.length === 0) return source;
    const { loss, cosine } = await this.timeMeans.take();
    return { ...source, timeSynthesizerLoss: loss, timeSynthesizerCosine: cosine };
  }

  /** The time synthesizers' figures of the backward pass just done, read without waiting. */
  private takeTimeFigures(): void {
    for (const layer of this.timeLayers) {
      const figures = layer.takeFigures();
      if (!figures) continue;
      const scalars = [figures.loss, figures.cosine];
      this.timeMeans.add(
        readScalars(scalars).then(
          ([loss, cosine]) => (tf.dispose(scalars), { loss, cosine }),
          (error: unknown) => (tf.dispose(scalars), Promise.reject(error)),
        ),
      );
    }
  }

  dispose(): void {
    this.source.dispose();
    if (this.locked) tf.dispose(this.locked.trace);
    if (this.probing) tf.dispose([this.probing.h, ...this.probing.trace.flat()]);
    this.syntheticInput?.dispose();
    this.optimizer.dispose();
    this.net.dispose();
  }

  /**
   * Backward through f_s with upstream gradient `dy`; sends δ down first, then updates θ_s (not
   * when `update` is false: a stage that skips its update still sends its target down).
   * Returns false when a gradient was not finite and the batch was dropped (with --skip-nonfinite).
   * `done` (the last stage's, with the batch loss): goes down with δ for the stage below to report
   * with its own, instead of a report of its own.
   */
  private async applyGradient(step: number, trace: Trace[], dy: tf.Tensor, update = true, done?: RelayedDone): Promise<boolean> {
    const needInput = this.spec.index > 0 && this.source.targetBelow;
    const kickback = needInput ? await this.kickbackDown(dy) : null;
    if (needInput && !kickback && this.sendsInputGradientFirst) return this.applyInputGradientFirst(step, trace, dy, update, done);
    const { dx, grads } = tidy(() => this.backwardPass(trace, dy, needInput, kickback?.down ?? null));
    tf.dispose([...trace, ...(kickback?.down ? [kickback.down] : [])]);
    this.takeTimeFigures();
    // δ[s-1]_t = dL/dh[s-1]_t through f_s: the target of stage s-1, read to the CPU to be sent down
    // with whether the parameter gradients are finite
    const [target, gradsFinite] = await Promise.all([dx ? ownedValues(dx) : null, allFinite(grads)]);
    const finite =
      this.finiteOr(gradsFinite, 'parameter gradients', step) &&
      (!target || this.finiteOr(finiteData(dx!, target), 'input gradient', step));
    tf.dispose(dx ?? []);
    if (!finite) {
      tf.dispose(grads);
      // a DNI stage below the top has sent h on: its done comes with the target, as usual
      const targetComing = this.source.expectsMessage && !this.source.awaited;
      this.drop(step, [], null, targetComing ? 'target-coming' : 'here');
      return false;
    }
    if (target) this.links.backward({ kind: 'backward', step, gradient: target, synthetic: this.source.synthetic, ...(done && { done: [done] }), ...(kickback && { error: kickback.error }) });
    if (update) this.optimizer.step(grads);
    tf.dispose(grads);
    if (update) this.own.updates += 1;
    else this.own.skippedUpdates += 1;
    return true;
  }

  /**
   * An update-locked stage (backprop and its kin) sends δ[s-1] down before it computes its
   * parameter gradients (Sequential.inputBackward), so the stage below, which waits for δ, starts
   * while this one finishes: the same values, in another order. Not with skipNonFinite, where a
   * batch whose parameter gradients are not finite is dropped before δ goes down.
   */
  private get sendsInputGradientFirst(): boolean {
    return isLockedMode(this.spec.mode) && !this.spec.skipNonFinite;
  }

  /** applyGradient, δ[s-1] first (see sendsInputGradientFirst); a value that is not finite throws. */
  private async applyInputGradientFirst(step: number, trace: Trace[], dy: tf.Tensor, update: boolean, done?: RelayedDone): Promise<boolean> {
    let pending: tf.Tensor[][] = [];
    try {
      const split = tidy(() => this.net.inputBackward(trace, dy, this.source.feedback));
      pending = split.pending;
      this.takeTimeFigures();
      let target: Float32Array;
      try {
        target = await ownedValues(split.dx);
        this.finiteOr(finiteData(split.dx, target), 'input gradient', step); // throws: skipNonFinite is off
      } finally {
        split.dx.dispose();
      }
      this.links.backward({ kind: 'backward', step, gradient: target, synthetic: this.source.synthetic, ...(done && { done: [done] }) });
      const grads = tidy(() => this.net.parameterGradients(trace, pending));
      try {
        this.finiteOr(await allFinite(grads), 'parameter gradients', step);
        if (update) this.optimizer.step(grads);
      } finally {
        tf.dispose(grads);
      }
    } finally {
      tf.dispose([...trace, ...pending.flat()]);
    }
    if (update) this.own.updates += 1;
    else this.own.skippedUpdates += 1;
    return true;
  }

  /** θ_s's gradients from `dy`, and δ[s-1] from `dy`, or from `down` (kickback) when given, in a second pass. */
  private backwardPass(trace: Trace[], dy: tf.Tensor, needInput: boolean, down: tf.Tensor | null): { dx: tf.Tensor | null; grads: tf.Tensor[] } {
    if (!down) return this.net.backward(trace, dy, needInput, this.source.feedback);
    const { grads } = this.net.backward(trace, dy, false, this.source.feedback);
    return { dx: this.net.backward(trace, down, true).dx, grads };
  }

  /** Kickback: the last stage's error e for the batch (it goes down with δ) and the gradient δ is the backward pass of (null: `dy`). */
  private async kickbackDown(dy: tf.Tensor): Promise<{ error: Float32Array; down: tf.Tensor | null } | null> {
    const link = this.source.kickback;
    if (!link) return null;
    const error = await link.error(dy);
    return { error, down: link.down ? tidy(() => link.down!(this.errorTensor(error), this.spec.outputShape)) : null };
  }

  /** The last stage's output error e, [rows, classes], from its values. */
  private errorTensor(error: Float32Array): tf.Tensor2D {
    return tf.tensor2d(error, [error.length / this.spec.classes, this.spec.classes]);
  }

  /** h's values to send up, or null when one is not finite (with --skip-nonfinite; else it throws). */
  private async activationsToSend(step: number, h: tf.Tensor): Promise<Float32Array | null> {
    const activations = await ownedValues(h);
    const injected = step === this.injectNaNAt;
    if (injected) activations[0] = NaN;
    return this.finiteOr(!injected && finiteData(h, activations), 'activations', step) ? activations : null;
  }

  private checkFinite(values: ArrayLike<number>, what: string, step: number): boolean {
    return this.finiteOr(firstNonFinite(values) < 0, what, step);
  }

  /** `finite`, or (not finite) throws, or (skipNonFinite) returns false for the caller to drop the batch. */
  private finiteOr(finite: boolean, what: string, step: number): boolean {
    if (finite) return true;
    if (!this.spec.skipNonFinite) throw new NonFiniteError(this.spec.index, step, what);
    return false;
  }

  /**
   * Drops batch t at this stage: no update, a null target for the stage below, and `done` (unless
   * the target from above is still coming). 'above': the stages above never receive t, and the
   * orchestrator counts them done.
   */
  private drop(step: number, trace: Trace[], h: tf.Tensor | null, how: 'above' | 'here' | 'target-coming'): void {
    tf.dispose(trace);
    h?.dispose();
    this.own.droppedNonFinite += 1;
    if (how === 'above') this.lastDroppedBeforeSending = step;
    this.sendNoTarget(step);
    if (how !== 'target-coming') this.reportDone(step, { dropped: how });
  }

  /** Reports this stage's done for `step`, with the dones of stages above that came down for it. */
  private reportDone(step: number, fields: Omit<RelayedDone, 'stage'> & { dropped?: 'here' | 'above' } = {}): void {
    const relayed = this.relayedDones.get(step);
    this.relayedDones.delete(step);
    this.links.report({ kind: 'done', stage: this.spec.index, step, ...fields, ...(relayed && { relayed }) });
  }

  private skip(step: number, trace: Trace[], h: tf.Tensor | null): void {
    tf.dispose(trace);
    if (h) h.dispose();
    this.own.skippedUpdates += 1;
    this.sendNoTarget(step);
  }

  /** Stage s-1 still waits for a target for this step: tell it there is none. */
  private sendNoTarget(step: number): void {
    if (this.spec.index > 0 && this.source.targetBelow) this.links.backward({ kind: 'backward', step, gradient: null, synthetic: !this.last });
  }

  private sendForward(message: ForwardMessage, activations: Float32Array): void {
    this.links.forward({ kind: 'forward', step: message.step, rows: message.rows, activations, labels: message.labels, eval: message.eval });
  }

  private inputOf(message: ForwardMessage): tf.Tensor2D {
    return tf.tensor2d(message.activations, [message.rows, this.spec.inputUnits]);
  }

  private async evaluate(message: ForwardMessage): Promise<void> {
    if (message.eval!.index === 0) this.net.startEvaluation(); // layers that carry state start a pass from zero
    const x = this.inputOf(message);
    const y = tf.tidy(() => this.net.forward(x, false).y);
    x.dispose();
    if (!this.last) {
      this.sendForward(message, await ownedValues(y));
      y.dispose();
      return;
    }
    const labels = oneHot(message.labels, this.spec.classes);
    const { loss, gradient, correct } = softmaxCrossEntropy(y as tf.Tensor2D, labels);
    const [lossMean, correctCount] = await readScalars([loss, correct]);
    const lossSum = lossMean * message.rows;
    tf.dispose([y, labels, loss, gradient, correct]);
    this.links.report({ kind: 'eval', stage: this.spec.index, tag: message.eval!, lossSum, correct: correctCount, rows: message.rows });
  }

  /**
   * The gradient probe going up: a training-mode pass (BatchNorm on the batch's statistics, its
   * running statistics left as they were) whose trace waits for the true gradient. The last stage
   * turns the loss's gradient e into the first true gradient down, and reports no cosine of its own.
   */
  private async probeForward(message: ForwardMessage): Promise<void> {
    const x = this.inputOf(message);
    const { y: h, trace } = keepRunningStatistics(this.net, () => tidy(() => this.net.forward(x, true)));
    x.dispose();
    if (!this.last) {
      this.forgetProbe();
      this.probing = { h, trace, labels: message.labels };
      this.links.forward({ kind: 'forward', step: -1, rows: message.rows, activations: await ownedValues(h), labels: message.labels, probe: true });
      return;
    }
    const labels = oneHot(message.labels, this.spec.classes);
    const { loss, gradient: e, correct } = softmaxCrossEntropy(h as tf.Tensor2D, labels);
    tf.dispose([loss, correct, labels, h]);
    await this.sendProbeDown(trace, e, e, await ownedValues(e));
    e.dispose();
    this.links.report({ kind: 'probe', stage: this.spec.index, cosine: null });
  }

  /**
   * The gradient probe coming down: the cosine of what this stage's source would use with the true
   * gradient, reported; then the true gradient on down through the stage's layers, and beside it
   * what the stage sends down in training (feedback alignment carries it with B).
   */
  private async probeBackward(message: BackwardMessage): Promise<void> {
    const probing = this.probing;
    if (!probing || !message.gradient || !message.used || !message.error) throw new Error(`stage ${this.spec.index}: a gradient probe came down that it did not send up, or without its gradients`);
    this.probing = null;
    const rows = probing.labels.length;
    const shape = [rows, ...this.spec.outputShape];
    const trueGradient = tf.tensor(message.gradient, shape);
    const fromAbove = tf.tensor(message.used, shape);
    const error = tf.tensor2d(message.error, [rows, this.spec.classes]);
    const used = this.source.probe({ h: probing.h, labels: probing.labels, fromAbove, error });
    const [dot, norms] = await readScalars(tf.tidy(() => [tf.sum(tf.mul(used, trueGradient)), tf.sqrt(tf.mul(tf.sum(tf.square(used)), tf.sum(tf.square(trueGradient))))]));
    await this.sendProbeDown(probing.trace, trueGradient, used, message.error);
    tf.dispose([probing.h, trueGradient, fromAbove, error, used]);
    this.links.report({ kind: 'probe', stage: this.spec.index, cosine: dot / Math.max(norms, 1e-30) });
  }

  /** The probe's true gradient down through the stage's layers (their own backward pass), and what the stage sends down in training from `used`. */
  private async sendProbeDown(trace: Trace[], trueGradient: tf.Tensor, used: tf.Tensor, error: Float32Array): Promise<void> {
    if (this.spec.index === 0) return void tf.dispose(trace);
    const down = tidy(() => {
      const exact = this.net.backward(trace, trueGradient, true);
      const down = this.source.kickback?.down;
      const sent = this.net.backward(trace, down ? down(this.errorTensor(error), this.spec.outputShape) : used, true, this.source.feedback);
      return { exact: exact.dx!, sent: sent.dx! };
    });
    tf.dispose(trace);
    const [gradient, sent] = await Promise.all([ownedValues(down.exact), ownedValues(down.sent)]);
    tf.dispose([down.exact, down.sent]);
    this.links.backward({ kind: 'backward', step: -1, gradient, synthetic: false, probe: true, used: sent, error });
  }

  private drawUpdate(): boolean {
    const p = this.spec.updateProbability;
    const draw = this.updateDraw();
    return p >= 1 || draw < p;
  }

  private setLearningRate(step: number): void {
    const { learningRate, decaySteps, decayFactor } = this.spec.optimizer;
    this.optimizer.learningRate = learningRateAt(step, learningRate, decaySteps, decayFactor);
    this.source.setLearningRate(step);
    if (this.syntheticInput) {
      const base = this.spec.syntheticInputs!.learningRate ?? learningRate;
      this.syntheticInput.learningRate = learningRateAt(step, base, decaySteps, decayFactor);
    }
  }
}
