/**
 * A stage's data links over NATS: it listens on its own `forward` (and `backward`) subjects and
 * publishes on its neighbours'; with DFA, stages below the last also listen on their `error`
 * subject, where only the last stage publishes. Subjects do not change when a neighbour is replaced, so `rewire`
 * does nothing.
 *
 * Nothing that arrives is trusted. Besides what NatsChannel refuses (unknown sender, oversized,
 * not MessagePack, malformed), the links refuse, and count:
 * - `shape`: activations that are not rows x the stage's input width, labels out of range, a
 *   target that is not rows x the stage's output width for the batch it answers, an error
 *   that is not rows x classes (DFA, or beside a kickback target);
 * - `step`: a training batch whose step was seen already (a replay), a target or error for a batch
 *   this stage did not send up or already got one for.
 * So a stray or malicious message never reaches the stage's tensors and never stops it.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Channel } from '../../loop/channel.js';
import type { DataLinks } from '../../loop/data-links.js';
import { NatsChannel, subject, type RejectReason } from './nats-channel.js';
import { dataMessageValidator } from './message-validators.js';
import { ORCHESTRATOR_SENDER, stageSender, addCounts, type StageLimits } from './nats-protocol.js';
import type { Inbox } from '../../loop/inbox.js';
import type { BackwardMessage, DataMessage, ForwardMessage, LinkEnds } from '../../stage/protocol.js';
import type { StageSpec } from '../../stage/stage-spec.js';
import { shapeSize } from '../../model/layer.js';

export type LinkRejectReason = RejectReason | 'shape' | 'step';

export interface NatsLinksOptions {
  connection: NatsConnection;
  run: string;
  spec: StageSpec;
  limits: StageLimits;
  /** Told about every refused message (after it is counted). */
  onReject?: (reason: LinkRejectReason, detail: string) => void;
}

/** Targets awaited, and steps remembered, at most (older entries are forgotten). */
const MAX_AWAITED = 4096;

export class NatsLinks implements DataLinks {
  forwardOut?: Channel<ForwardMessage>;
  backwardOut?: Channel<BackwardMessage>;
  /** DFA's last stage: the output error, published to each stage below on its `error` subject. */
  errorOut?: Channel<BackwardMessage>;
  /** Messages refused by the links themselves (NatsChannel counts the rest). */
  readonly refused = { shape: 0, step: 0 };
  private readonly forwardIn: NatsChannel<DataMessage>;
  private readonly backwardIn?: NatsChannel<DataMessage>;
  /** DFA, a stage below the last: the last stage's output error for the batches this stage sent up. */
  private readonly errorIn?: NatsChannel<DataMessage>;
  private readonly outputs: NatsChannel<DataMessage>[] = [];
  /** Training steps sent up whose target has not come yet, with their rows. */
  private readonly awaited = new Map<number, number>();
  /** Rows of the gradient probe sent up, until its true gradient comes down. */
  private probeRows: number | null = null;
  /** Training steps received lately (to refuse replays), oldest first. */
  private readonly seenSteps = new Set<number>();
  private readonly inputWidth: number;
  private readonly outputWidth: number;

  constructor(private readonly options: NatsLinksOptions) {
    const { connection, run, spec, limits } = options;
    const s = spec.index;
    const last = s === spec.count - 1;
    this.inputWidth = spec.inputUnits;
    this.outputWidth = shapeSize(spec.outputShape);
    const onReject = (reason: RejectReason, detail: string) => options.onReject?.(reason, detail);
    this.forwardIn = new NatsChannel<DataMessage>({
      connection,
      subject: subject(run, s, 'forward'),
      allowedSenders: [s === 0 ? ORCHESTRATOR_SENDER : stageSender(s - 1)],
      validate: dataMessageValidator({ maxRows: limits.maxRows, maxValues: limits.maxRows * this.inputWidth }),
      maxMessageBytes: limits.maxRows * (this.inputWidth * 4 + 1) + 4096,
      onReject,
    });
    if (!last) {
      this.backwardIn = new NatsChannel<DataMessage>({
        connection,
        subject: subject(run, s, 'backward'),
        allowedSenders: [stageSender(s + 1)],
        validate: dataMessageValidator({ maxRows: limits.maxRows, maxValues: limits.maxRows * this.outputWidth }),
        maxMessageBytes: limits.maxRows * this.outputWidth * 4 + 4096,
        onReject,
      });
      const up = new NatsChannel<DataMessage>({ connection, subject: subject(run, s + 1, 'forward'), sender: stageSender(s) });
      this.outputs.push(up);
      this.forwardOut = {
        send: (m) => {
          if (m.probe) this.probeRows = m.rows;
          else if (!m.eval && !m.marker) this.expectTarget(m.step, m.rows);
          up.send(m);
        },
        onMessage: () => undefined,
        close: () => up.close(),
      };
    }
    if (s > 0) {
      const down = new NatsChannel<DataMessage>({ connection, subject: subject(run, s - 1, 'backward'), sender: stageSender(s) });
      this.outputs.push(down);
      this.backwardOut = down as Channel<BackwardMessage>;
    }
    if (spec.mode === 'dfa' && !last) {
      const errorWidth = spec.classes;
      this.errorIn = new NatsChannel<DataMessage>({
        connection,
        subject: subject(run, s, 'error'),
        allowedSenders: [stageSender(spec.count - 1)],
        validate: dataMessageValidator({ maxRows: limits.maxRows, maxValues: limits.maxRows * errorWidth }),
        maxMessageBytes: limits.maxRows * errorWidth * 4 + 4096,
        onReject,
      });
    }
    if (spec.mode === 'dfa' && last && s > 0) {
      const below = Array.from({ length: s }, (_, t) => new NatsChannel<DataMessage>({ connection, subject: subject(run, t, 'error'), sender: stageSender(s) }));
      this.outputs.push(...below);
      this.errorOut = { send: (m) => below.forEach((c) => c.send(m)), onMessage: () => undefined, close: () => below.forEach((c) => c.close()) };
    }
  }

  listen(inbox: Inbox): void {
    this.forwardIn.onMessage((m) => {
      if (m.kind !== 'forward') return this.refuse('shape', 'a target on the forward subject');
      if (m.activations.length !== m.rows * this.inputWidth) {
        return this.refuse('shape', `step ${m.step}: ${m.activations.length} activations for ${m.rows} rows of ${this.inputWidth}`);
      }
      const classes = this.options.spec.classes;
      for (let i = 0; i < m.labels.length; i++) {
        if (m.labels[i] >= classes) return this.refuse('shape', `step ${m.step}: label ${m.labels[i]} >= ${classes} classes`);
      }
      if (!m.eval && !m.marker && !m.probe) {
        if (this.seenSteps.has(m.step)) return this.refuse('step', `training step ${m.step} again`);
        this.seenSteps.add(m.step);
        if (this.seenSteps.size > MAX_AWAITED) this.seenSteps.delete(this.seenSteps.values().next().value as number);
      }
      inbox.pushForward(m);
    });
    this.backwardIn?.onMessage((m) => {
      if (m.kind !== 'backward') return this.refuse('shape', 'a batch on the backward subject');
      if (m.probe) return this.probeDown(m, inbox);
      const rows = this.awaited.get(m.step);
      if (rows === undefined) return this.refuse('step', `target for step ${m.step}, which was not sent up or already has its target`);
      if (m.gradient !== null && m.gradient.length !== rows * this.outputWidth) {
        return this.refuse('shape', `target for step ${m.step}: ${m.gradient.length} values for ${rows} rows of ${this.outputWidth}`);
      }
      const classes = this.options.spec.classes;
      if (m.error != null && m.error.length !== rows * classes) {
        return this.refuse('shape', `error beside the target for step ${m.step}: ${m.error.length} values for ${rows} rows of ${classes} classes`);
      }
      this.awaited.delete(m.step);
      inbox.pushBackward(m);
    });
    this.errorIn?.onMessage((m) => {
      if (m.kind !== 'backward') return this.refuse('shape', 'a batch on the error subject');
      const rows = this.awaited.get(m.step);
      if (rows === undefined) return this.refuse('step', `error for step ${m.step}, which was not sent up or already has its error`);
      const classes = this.options.spec.classes;
      if (m.gradient === null || m.gradient.length !== rows * classes) {
        return this.refuse('shape', `error for step ${m.step}: ${m.gradient?.length ?? 'no'} values for ${rows} rows of ${classes} classes`);
      }
      this.awaited.delete(m.step);
      inbox.pushBackward(m);
    });
  }

  /** The gradient probe's true gradient, for the probe this stage sent up: rows x the output width (and rows x classes for the error). */
  private probeDown(m: BackwardMessage, inbox: Inbox): void {
    const rows = this.probeRows;
    if (rows === null) return this.refuse('step', 'a gradient probe that was not sent up');
    const classes = this.options.spec.classes;
    if (m.gradient!.length !== rows * this.outputWidth || m.used!.length !== rows * this.outputWidth || m.error!.length !== rows * classes) {
      return this.refuse('shape', `gradient probe: ${m.gradient!.length}, ${m.used!.length} and ${m.error!.length} values for ${rows} rows of ${this.outputWidth} (and of ${classes} classes)`);
    }
    this.probeRows = null;
    inbox.pushBackward(m);
  }

  forgetProbe(): void {
    this.probeRows = null;
  }

  rewire(_ends: LinkEnds): void {
    // subjects stay the same when a neighbour is replaced
  }

  /** Every refused message so far, by reason (nonzero only). */
  rejected(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const c of [this.forwardIn, this.backwardIn, this.errorIn]) if (c) addCounts(counts, c.rejected);
    return addCounts(counts, this.refused);
  }

  /** Resolves once the server has the subscriptions and everything published so far. */
  flush(): Promise<void> {
    return this.forwardIn.flush();
  }

  close(): void {
    for (const c of [this.forwardIn, this.backwardIn, this.errorIn, ...this.outputs]) c?.close();
  }

  private expectTarget(step: number, rows: number): void {
    this.awaited.set(step, rows);
    if (this.awaited.size > MAX_AWAITED) this.awaited.delete(this.awaited.keys().next().value as number);
  }

  private refuse(reason: 'shape' | 'step', detail: string): void {
    this.refused[reason] += 1;
    try {
      this.options.onReject?.(reason, `${this.forwardIn.subject.replace(/\.forward$/, '')}: ${detail}`);
    } catch {
      // a failing reporter must not break the links
    }
  }
}
