/**
 * A stage process (`synthgrad stage`): joins a run over NATS, serves its stage with the same loop
 * as a worker thread (serveStage), and leaves when told to stop, when the orchestrator goes
 * silent, or when another process replaced it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import { serveStage } from '../../loop/serve-stage.js';
import { failureOf } from '../../loop/stage-failure.js';
import type { ControlMessage, ReportMessage, StageStats } from '../../stage/protocol.js';
import type { Channel } from '../../loop/channel.js';
import { NatsChannel, subject } from './nats-channel.js';
import { connectNats, credentialsFromEnv, redactUrl, tlsFromEnv, type NatsCredentials } from './nats-connect.js';
import { NatsLinks } from './nats-links.js';
import { addCounts, controlWireValidator, ORCHESTRATOR_SENDER, stageSender, type ControlWire, type StageWire } from './nats-protocol.js';
import { describeConnectError } from './nats-errors.js';
import type { NatsTls } from './nats-connect.js';
import { within } from './within.js';
import type { Logger } from '../../log.js';
import { watchConnection, type ConnectionWatch } from './nats-status.js';

export interface NatsStageOptions {
  url: string;
  run: string;
  stage: number;
  /** Default: from the environment (tlsFromEnv). */
  tls?: NatsTls;
  /** Default: from the environment (credentialsFromEnv). */
  credentials?: NatsCredentials;
  /** Give up when no orchestrator assigns the stage within this time. */
  joinTimeoutMs: number;
  /** Instance id (default: random); the orchestrator names the processes it starts. */
  instance?: string;
  logger: Logger;
}

/** How a stage process ended: its exit code and why. */
export interface StageOutcome {
  code: number;
  reason: string;
}

type Assignment = Extract<ControlWire, { kind: 'assign' }>;

const HELLO_EVERY_MS = 1_000;
const WATCHDOG_EVERY_MS = 250;

/** Runs one stage process to its end; never throws after connecting (the outcome says what happened). */
export async function runNatsStage(options: NatsStageOptions): Promise<StageOutcome> {
  subject(options.run, options.stage, 'control'); // checks the run id and stage index
  const tls = options.tls ?? tlsFromEnv();
  let nc: NatsConnection;
  try {
    nc = await connectNats({
      url: options.url,
      name: `synthgrad-${options.run}-stage-${options.stage}`,
      ...(options.credentials ?? credentialsFromEnv()),
      tlsCa: tls?.ca,
      tlsCert: tls?.cert,
      tlsKey: tls?.key,
    });
  } catch (error) {
    return { code: 1, reason: describeConnectError(error, options.url, tls) };
  }
  return new StageProcess(nc, options).run();
}

/** Rejected messages: counted by reason, logged a few times per reason, then every 100th. */
class RejectLog {
  readonly own: Record<string, number> = {};
  private readonly seen: Record<string, number> = {};

  constructor(private readonly warn: (data: Record<string, unknown>) => void) {}

  /** A message the process itself refused (its links count their own). */
  ownReject(reason: string, detail: string): void {
    this.own[reason] = (this.own[reason] ?? 0) + 1;
    this.log(reason, detail);
  }

  log(reason: string, detail: string): void {
    const seen = (this.seen[reason] = (this.seen[reason] ?? 0) + 1);
    if (seen > 5 && seen % 100 !== 0) return;
    this.warn({ reason, count: seen, detail: detail.slice(0, 300) });
  }
}

/** One stage process after it connected: joining, serving its stage, and the watchdogs that end it. */
class StageProcess {
  private readonly stage: number;
  private readonly instance: string;
  private readonly logger: Logger;
  private readonly connection: ConnectionWatch;
  private readonly rejects: RejectLog;
  private readonly reports: NatsChannel<StageWire>;
  private readonly control: NatsChannel<ControlWire>;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly ended: Promise<StageOutcome>;
  private outcome!: (result: StageOutcome) => void;
  private finished = false;
  private links: NatsLinks | null = null;
  private assigned = false;
  private lastControl = performance.now();
  /** Control messages for serveStage, kept until it listens (like a MessagePort's queue). */
  private readonly queued: ControlMessage[] = [];
  private deliver: ((m: ControlMessage) => void) | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: NatsStageOptions,
  ) {
    const { run, stage, logger } = options;
    this.stage = stage;
    this.logger = logger;
    this.instance = options.instance ?? randomBytes(6).toString('hex');
    this.ended = new Promise<StageOutcome>((resolve) => (this.outcome = resolve));
    logger.info({ run, stage, instance: this.instance, server: redactUrl(options.url) }, `stage ${stage} connected; waiting for the orchestrator of run ${run}`);
    this.connection = watchConnection(nc, {
      disconnected: () => logger.warn({ stage, server: redactUrl(options.url) }, `stage ${stage} lost the NATS server; reconnecting`),
      reconnected: (downMs) => {
        logger.warn({ stage, downSeconds: Math.round(downMs) / 1000 }, `stage ${stage} reconnected to the NATS server`);
        // what was sent to this stage meanwhile is gone: the orchestrator looks for lost batches
        if (this.assigned) this.send({ kind: 'reconnected', stage, instance: this.instance, downMs });
      },
    });
    this.rejects = new RejectLog((data) => {
      logger.warn(data, 'message rejected');
      const msg = `stage ${stage} rejected a message (${data.reason})`;
      if (this.assigned) this.report({ kind: 'log', stage, level: 'warn', msg, data });
    });
    this.reports = new NatsChannel<StageWire>({ connection: nc, subject: subject(run, stage, 'stats'), sender: stageSender(stage) });
    this.control = new NatsChannel<ControlWire>({
      connection: nc,
      subject: subject(run, stage, 'control'),
      allowedSenders: [ORCHESTRATOR_SENDER],
      validate: controlWireValidator(stage),
      onReject: (reason, detail) => this.rejects.ownReject(reason, detail),
      onHandlerError: (error) => this.failed(error),
    });
    this.control.onMessage((m) => this.onControl(m));
  }

  async run(): Promise<StageOutcome> {
    await this.control.flush();
    this.sayHello();
    this.nc.closed().then((error) => this.finish(1, `the NATS connection closed${error ? `: ${error.message}` : ''}`));
    const result = await this.ended;
    // the last words, if the server is there to take them (bounded: it may be gone)
    await within(this.reports.flush().catch(() => undefined), 2_000);
    this.links?.close();
    this.control.close();
    this.reports.close();
    await this.nc.close().catch(() => undefined);
    return result;
  }

  /** Says hello every second until the orchestrator assigns the stage, or the join time is over. */
  private sayHello(): void {
    const { stage, run, joinTimeoutMs } = this.options;
    const t0 = performance.now();
    const hello = (): void => {
      if (this.assigned || this.finished) return;
      if (performance.now() - t0 > joinTimeoutMs) {
        const why = `no orchestrator assigned stage ${stage} of run ${run} within ${(joinTimeoutMs / 1000).toFixed(0)} s (are the run id and stage right, and is synthgrad train --transport nats running?)`;
        return this.finish(1, why);
      }
      this.send({ kind: 'hello', stage, instance: this.instance, host: hostname().slice(0, 256), pid: process.pid });
    };
    hello();
    this.timers.push(setInterval(hello, HELLO_EVERY_MS));
  }

  /** The orchestrator's messages: joining and leaving here, the rest for the stage once it serves. */
  private onControl(m: ControlWire): void {
    this.lastControl = performance.now();
    const { stage, instance } = this;
    switch (m.kind) {
      case 'ping':
        return;
      case 'assign':
        if (m.instance === instance) {
          if (!this.assigned) this.start(m);
        } else if (this.assigned) {
          this.finish(3, `stage ${stage} was given to another process (${m.instance}); leaving`);
        }
        return;
      case 'refuse':
        if (m.instance === instance) this.finish(2, `the orchestrator refused this process: ${m.reason}`);
        return;
      case 'leave':
        if (m.instance === undefined || m.instance === instance) this.finish(m.instance === undefined ? 0 : 3, `told to leave: ${m.reason}`);
        return;
      default:
        if (!this.assigned) return;
        if (this.deliver) this.deliver(m);
        else this.queued.push(m);
    }
  }

  /** The stage is this process's: serve it until it stops or fails. */
  private start(assignment: Assignment): void {
    this.assigned = true;
    const { spec } = assignment;
    const { stage, instance } = this;
    this.logger.info({ stage, instance, layers: spec.layers.length, mode: spec.mode, restore: spec.restore ?? null }, `stage ${stage} assigned`);
    this.links = new NatsLinks({ connection: this.nc, run: this.options.run, spec, limits: assignment.limits, onReject: (reason, detail) => this.rejects.log(reason, detail) });
    this.timers.push(setInterval(() => this.send({ kind: 'heartbeat', stage, instance }), assignment.heartbeatMs));
    this.watch(assignment);
    serveStage(spec, this.links, this.stageChannel()).then(
      (stats: StageStats) => {
        this.send({ kind: 'stopped', stage, instance, stats: { ...stats, rejected: this.rejected() } });
        this.finish(0, `stage ${stage} stopped`);
      },
      (error) => this.failed(error),
    );
  }

  /**
   * Leaves when the NATS server stays away too long, or the orchestrator goes silent (it pings
   * every second) while the server is there.
   */
  private watch(assignment: Assignment): void {
    let lastTick = performance.now();
    const check = (): void => {
      const now = performance.now();
      if (now - lastTick > 1_000) this.lastControl = now; // this process was busy: give the pings time to be read
      lastTick = now;
      const down = this.connection.downFor(now);
      if (down > assignment.reconnectTimeoutMs) {
        return this.finish(1, `the NATS server at ${redactUrl(this.options.url)} has been unreachable for ${(down / 1000).toFixed(0)} s; leaving`);
      }
      if (down > 0) this.lastControl = now; // silence is the server's doing, not the orchestrator's
      if (now - this.lastControl > assignment.orchestratorTimeoutMs) {
        this.finish(1, `no message from the orchestrator for ${(assignment.orchestratorTimeoutMs / 1000).toFixed(0)} s; leaving`);
      }
    };
    this.timers.push(setInterval(check, WATCHDOG_EVERY_MS));
  }

  /** The stage's control channel: reports go out wrapped for the orchestrator, control comes from onControl. */
  private stageChannel(): Channel<ReportMessage | ControlMessage> {
    return {
      send: (r) => {
        const m = r as ReportMessage;
        this.report(m.kind === 'stats' ? { ...m, stats: { ...m.stats, rejected: this.rejected() } } : m);
      },
      onMessage: (handler) => {
        this.deliver = handler;
        for (const m of this.queued.splice(0)) handler(m);
      },
      close: () => undefined,
    };
  }

  private rejected(): Record<string, number> {
    const counts = addCounts({}, this.rejects.own);
    return this.links ? addCounts(counts, this.links.rejected()) : counts;
  }

  private report(report: ReportMessage): void {
    this.send({ kind: 'report', stage: this.stage, instance: this.instance, report });
  }

  private send(m: StageWire): void {
    try {
      this.reports.send(m);
    } catch (error) {
      this.logger.warn({ error: (error as Error).message }, 'could not send to the orchestrator');
    }
  }

  private failed(error: unknown): void {
    if (this.finished) return;
    const { stage, instance } = this;
    const failure = failureOf(error);
    this.send({ kind: 'failed', stage, instance, ...failure });
    this.finish(1, `stage ${stage} failed: ${failure.message}`);
  }

  private finish(code: number, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    for (const t of this.timers) clearInterval(t);
    this.outcome({ code, reason });
  }
}
