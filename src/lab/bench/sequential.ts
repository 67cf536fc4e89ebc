/**
 * The bench's `sequential` configuration: every stage of a config in THIS thread, one after
 * another, the way earlier DNI implementations run (one thread, layers in turn). Same stage specs,
 * seeds and backend as the stage workers, the same training batches in the same order as `train`,
 * and each stage's messages in the order `lockstep` gives them; no worker threads, no message
 * passing. It is the baseline a parallel schedule's speedup is measured against: `lockstep` in
 * workers already overlaps stage s's update with stage s+1's forward pass.
 */
import { performance } from 'node:perf_hooks';
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../config/errors.js';
import type { Batch, Dataset, Split } from '../../data/index.js';
import { RunDir } from '../../metrics/run-dir.js';
import { Stage } from '../../stage/stage.js';
import { Inbox } from '../../loop/inbox.js';
import { nextAction, type Action } from '../../loop/schedule.js';
import { stageSpecs, type StageSpec } from '../../stage/stage-spec.js';
import type { ReportMessage } from '../../stage/protocol.js';
import { selectBackend } from '../../runtime/backend.js';
import { effectiveWindow, runData } from '../../train.js';
import { epochOrder, trainingSteps } from '../../run/training-order.js';
import type { StageState } from '../../stage/stage-state.js';
import type { RunFigures, StageFigures } from './analysis.js';
import { SEQUENTIAL } from './plan.js';
import { doneCredit, doneLoss } from '../../pipeline/done.js';

/**
 * The training batches `train` feeds for a fresh run of `config`, in its order: epoch e shuffled
 * by stream(seed, 'shuffle', 'epoch', e), e = 1, 2, ..., whole batches only, until train.maxSteps
 * or the last epoch.
 */
export function* trainingOrder(split: Split, config: Config): Generator<Batch> {
  const { total } = trainingSteps(split.count, config.train);
  let step = 0;
  for (let epoch = 1; epoch <= config.train.epochs && step < total; epoch++) {
    for (const batch of epochOrder(split, config.train, epoch)) {
      yield batch;
      if (++step >= total) return;
    }
  }
}

/**
 * The stages of one config, built in this thread and linked by in-memory queues: what stage s
 * sends forward is queued for stage s+1, what it sends backward for stage s-1. One training step
 * at a time, as in `lockstep` (one batch in flight).
 */
export class SequentialStages {
  readonly stages: Stage[];
  /** Per stage: milliseconds in its own work (forward, backward), and handing messages on. */
  readonly busyMs: number[];
  readonly sendMs: number[];
  private readonly inboxes: Inbox[];
  private readonly done = new Map<number, number>();
  private lossSum = 0;
  private rows = 0;

  constructor(readonly specs: readonly StageSpec[]) {
    if (specs.some((s) => s.syntheticInputs)) {
      throw new ConfigError('syntheticInputs', ['the sequential runner does not drive complete unlock (data batches into every stage): drop syntheticInputs']);
    }
    if (specs.some((s) => s.schedule !== 'lockstep')) {
      throw new ConfigError('train.schedule', [`the sequential runner follows the lockstep order: resolve the config with schedule lockstep, not ${specs[0].schedule}`]);
    }
    this.inboxes = specs.map(() => new Inbox());
    this.busyMs = specs.map(() => 0);
    this.sendMs = specs.map(() => 0);
    const timed = <T>(s: number, deliver: (m: T) => void) => (m: T) => {
      const t0 = performance.now();
      deliver(m);
      this.sendMs[s] += performance.now() - t0;
    };
    this.stages = [];
    try {
      for (const spec of specs) {
        const s = spec.index;
        this.stages.push(
          new Stage(spec, {
            forward: timed(s, (m) => this.inboxes[s + 1].pushForward(m)),
            backward: timed(s, (m) => this.inboxes[s - 1].pushBackward(m)),
            report: (m) => this.report(m),
            // DFA: the last stage's error to every stage below, a copy each
            error: timed(s, (m) => this.inboxes.slice(0, s).forEach((inbox) => inbox.pushBackward({ ...m, gradient: m.gradient && m.gradient.slice() }))),
          }),
        );
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Mean training loss per example so far. */
  get trainLoss(): number {
    return this.rows > 0 ? this.lossSum / this.rows : NaN;
  }

  /**
   * Training step `step` on `batch` (its arrays are handed to stage 0, not copied), to the end: the
   * forward messages up to the top, then the targets down. Each stage takes its next message as
   * the schedule (nextAction) says; with one batch in flight a stage's messages come in one fixed
   * order (h[s-1]_t, then the target for t), so which stage runs first cannot change the result.
   */
  async step(batch: Batch, step: number): Promise<void> {
    this.done.set(step, 0);
    this.inboxes[0].pushForward({ kind: 'forward', step, rows: batch.size, activations: batch.x, labels: batch.labels });
    for (let next = this.pick(); next; next = this.pick()) {
      const [s, action] = next;
      const inbox = this.inboxes[s];
      const t0 = performance.now();
      if (action === 'forward') await this.stages[s].forward(inbox.forward.shift()!);
      else await this.stages[s].backward(inbox.backward.shift()!);
      this.busyMs[s] += performance.now() - t0;
    }
    const finished = this.done.get(step)!;
    this.done.delete(step);
    if (finished < this.stages.length) throw new Error(`step ${step}: ${finished} of ${this.stages.length} stages finished it and nothing is left to do`);
  }

  /** Each stage's whole state (weights, Adam, synthesizer, update stream, counters), between two steps. */
  states(step: number): Promise<StageState[]> {
    return Promise.all(this.stages.map((stage) => stage.exportState(step, {})));
  }

  dispose(): void {
    for (const stage of this.stages) stage.dispose();
  }

  /** The lowest stage that takes a forward message, else the highest that takes a target; null when all is done. */
  private pick(): [number, 'forward' | 'backward'] | null {
    const actions: Action[] = this.stages.map((stage, s) =>
      nextAction({
        mode: stage.spec.mode,
        schedule: stage.spec.schedule,
        awaitingTargets: 0, // only the pipelined schedule looks at these
        oldestFlushed: false,
        awaitingGradient: stage.awaitingGradient,
        forwardQueued: this.inboxes[s].forward.length,
        backwardQueued: this.inboxes[s].backward.length,
        inputQueued: 0,
        stopRequested: false,
      }),
    );
    const up = actions.indexOf('forward');
    if (up >= 0) return [up, 'forward'];
    const down = actions.lastIndexOf('backward');
    if (down >= 0) return [down, 'backward'];
    const stuck = this.inboxes.findIndex((inbox) => inbox.forward.length + inbox.backward.length > 0);
    if (stuck >= 0) throw new Error(`stage ${stuck} has messages queued but its schedule says ${actions[stuck]}`);
    return null;
  }

  /** Counts `done` reports as the orchestrator does (doneCredit: relayed dones, a batch dropped before going up). */
  private report(message: ReportMessage): void {
    if (message.kind !== 'done') return;
    const count = this.done.get(message.step);
    if (count === undefined) throw new Error(`stage ${message.stage} finished step ${message.step}, which is not under way`);
    this.done.set(message.step, count + doneCredit(message, this.stages.length));
    const batch = doneLoss(message);
    if (batch) {
      this.lossSum += batch.loss * batch.rows;
      this.rows += batch.rows;
    }
  }
}

export interface SequentialOptions {
  /** Preloaded data (otherwise loaded from config.data). */
  data?: Dataset;
  /** Return each stage's state at the end (for comparing with a checkpoint of a worker run). */
  keepStates?: boolean;
  /** Called after every step: the steps done and the training time so far. */
  onStep?(steps: number, trainSeconds: number): void;
}

/** What a sequential run measured: the figures a bench run record needs, per stage too. */
export interface SequentialResult extends RunFigures {
  /**
   * Per stage: busy = its own work, send = handing messages on (an array push), wait = the rest of
   * the training time, when the other stages ran (one thread: busy / (busy + wait) is its share).
   */
  perStage: StageFigures[];
  /** Mean training loss per example over the run. */
  trainLoss: number;
  states?: StageState[];
}

/**
 * Trains `config` (schedule lockstep) for its steps with every stage in this thread, one after
 * another, and times the steps (batches made, forward and targets, as train times them; stage
 * construction and backend start-up excluded). Writes sequential.json to config.out when set.
 * No evaluation: only throughput and the training loss.
 */
export async function trainSequential(config: Config, options: SequentialOptions = {}): Promise<SequentialResult> {
  const started = performance.now();
  const data = runData(config, options);
  const dir = config.out ? new RunDir(config.out) : null;
  const backend = await selectBackend(config.backend);
  const stages = new SequentialStages(stageSpecs(config, effectiveWindow(config)));
  try {
    let steps = 0;
    let samples = 0;
    const t0 = performance.now();
    for (const batch of trainingOrder(data.train, config)) {
      await stages.step(batch, steps++);
      samples += batch.size;
      options.onStep?.(steps, (performance.now() - t0) / 1000);
    }
    const trainMs = performance.now() - t0;
    const result: SequentialResult = {
      outDir: dir?.path ?? '',
      mode: config.mode,
      schedule: SEQUENTIAL,
      window: 1,
      backend: backend.name,
      steps,
      batchSize: config.train.batchSize,
      wallSeconds: (performance.now() - started) / 1000,
      trainSeconds: trainMs / 1000,
      trainSamplesPerSecond: trainMs > 0 ? (samples * 1000) / trainMs : 0,
      trainLoss: stages.trainLoss,
      perStage: stages.busyMs.map((busy, stage) => ({
        stage,
        busySeconds: busy / 1000,
        waitSeconds: Math.max(0, trainMs - busy) / 1000,
        sendSeconds: stages.sendMs[stage] / 1000,
      })),
    };
    dir?.writeJson('sequential.json', { config, ...result });
    return options.keepStates ? { ...result, states: await stages.states(steps) } : result;
  } finally {
    stages.dispose();
  }
}
