/**
 * A stage process (`synthgrad stage`): joins a run over NATS, serves its stage with the same loop
 * as a worker thread (serveStage), and leaves when told to stop, when the orchestrator goes
 * silent, or when another process replaced it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import { serveStage } from '../pipeline/serve-stage.js';
import { NonFiniteError } from '../pipeline/stage.js';
import type { ControlMessage, ReportMessage, StageStats } from '../pipeline/protocol.js';
import type { Channel } from './channel.js';
import { NatsChannel, subject } from './nats-channel.js';
import { connectNats, credentialsFromEnv, redactUrl, tlsFromEnv, type NatsCredentials } from './nats-connect.js';
import { NatsLinks } from './nats-links.js';
import { addCounts, controlWireValidator, ORCHESTRATOR_SENDER, stageSender, type ControlWire, type StageWire } from './nats-protocol.js';
import { describeConnectError } from './nats-errors.js';
import type { NatsTls } from './nats-connect.js';
import { within } from './within.js';
import type { Logger } from '../log.js';
import { watchConnection } from './nats-status.js';

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

const HELLO_EVERY_MS = 1_000;

/** Runs one stage process to its end; never throws after connecting (the outcome says what happened). */
export async function runNatsStage(options: NatsStageOptions): Promise<StageOutcome> {
  const { run, stage, logger } = options;
  const instance = options.instance ?? randomBytes(6).toString('hex');
  subject(run, stage, 'control'); // checks the run id and stage index
  const credentials = options.credentials ?? credentialsFromEnv();
  const tls = options.tls ?? tlsFromEnv();
  let nc: NatsConnection;
  try {
    nc = await connectNats({
      url: options.url,
      name: `synthgrad-${run}-stage-${stage}`,
      ...credentials,
      tlsCa: tls?.ca,
      tlsCert: tls?.cert,
      tlsKey: tls?.key,
    });
  } catch (error) {
    return { code: 1, reason: describeConnectError(error, options.url, tls) };
  }
  logger.info({ run, stage, instance, server: redactUrl(options.url) }, `stage ${stage} connected; waiting for the orchestrator of run ${run}`);

  let outcome!: (result: StageOutcome) => void;
  const ended = new Promise<StageOutcome>((resolve) => (outcome = resolve));
  let finished = false;
  const timers: NodeJS.Timeout[] = [];
  let links = null as NatsLinks | null;
  let assigned = false;
  let lastControl = performance.now();
  const connection = watchConnection(nc, {
    disconnected: () => logger.warn({ stage, server: redactUrl(options.url) }, `stage ${stage} lost the NATS server; reconnecting`),
    reconnected: (downMs) => {
      logger.warn({ stage, downSeconds: Math.round(downMs) / 1000 }, `stage ${stage} reconnected to the NATS server`);
      // what was sent to this stage meanwhile is gone: the orchestrator looks for lost batches
      if (assigned) send({ kind: 'reconnected', stage, instance, downMs });
    },
  });

  // rejected messages: counted, logged a few times per reason, then every 100th
  const ownRejects: Record<string, number> = {};
  const rejected = (): Record<string, number> => {
    const counts = addCounts({}, ownRejects);
    return links ? addCounts(counts, links.rejected()) : counts;
  };
  const seen: Record<string, number> = {};
  const onReject = (reason: string, detail: string): void => {
    seen[reason] = (seen[reason] ?? 0) + 1;
    if (seen[reason] > 5 && seen[reason] % 100 !== 0) return;
    const data = { reason, count: seen[reason], detail: detail.slice(0, 300) };
    logger.warn(data, 'message rejected');
    if (assigned) send({ kind: 'report', stage, instance, report: { kind: 'log', stage, level: 'warn', msg: `stage ${stage} rejected a message (${reason})`, data } });
  };

  const reports = new NatsChannel<StageWire>({ connection: nc, subject: subject(run, stage, 'stats'), sender: stageSender(stage) });
  const send = (m: StageWire): void => {
    try {
      reports.send(m);
    } catch (error) {
      logger.warn({ error: (error as Error).message }, 'could not send to the orchestrator');
    }
  };

  const finish = (code: number, reason: string): void => {
    if (finished) return;
    finished = true;
    for (const t of timers) clearInterval(t);
    outcome({ code, reason });
  };

  const failed = (error: unknown): void => {
    if (finished) return;
    const err = error as Error;
    if (err instanceof NonFiniteError) send({ kind: 'report', stage, instance, report: { kind: 'fatal', stage, message: err.message } });
    send({ kind: 'failed', stage, instance, message: `stage ${stage}: ${err?.message ?? String(error)}`, stack: `stage ${stage}: ${err?.stack ?? String(error)}` });
    finish(1, `stage ${stage} failed: ${err?.message ?? String(error)}`);
  };

  // control messages for serveStage, kept until it listens (like a MessagePort's queue)
  const queued: ControlMessage[] = [];
  let deliver: ((m: ControlMessage) => void) | null = null;

  const control = new NatsChannel<ControlWire>({
    connection: nc,
    subject: subject(run, stage, 'control'),
    allowedSenders: [ORCHESTRATOR_SENDER],
    validate: controlWireValidator(stage),
    onReject: (reason, detail) => {
      ownRejects[reason] = (ownRejects[reason] ?? 0) + 1;
      onReject(reason, detail);
    },
    onHandlerError: failed,
  });
  control.onMessage((m) => {
    lastControl = performance.now();
    switch (m.kind) {
      case 'ping':
        return;
      case 'assign':
        if (m.instance === instance) {
          if (!assigned) start(m);
        } else if (assigned) {
          finish(3, `stage ${stage} was given to another process (${m.instance}); leaving`);
        }
        return;
      case 'refuse':
        if (m.instance === instance) finish(2, `the orchestrator refused this process: ${m.reason}`);
        return;
      case 'leave':
        if (m.instance === undefined || m.instance === instance) finish(m.instance === undefined ? 0 : 3, `told to leave: ${m.reason}`);
        return;
      default:
        if (!assigned) return;
        if (deliver) deliver(m);
        else queued.push(m);
    }
  });

  const start = (assignment: Extract<ControlWire, { kind: 'assign' }>): void => {
    assigned = true;
    const { spec } = assignment;
    logger.info({ stage, instance, layers: spec.layers.length, mode: spec.mode, restore: spec.restore ?? null }, `stage ${stage} assigned`);
    links = new NatsLinks({ connection: nc, run, spec, limits: assignment.limits, onReject });
    timers.push(setInterval(() => send({ kind: 'heartbeat', stage, instance }), assignment.heartbeatMs));
    // the orchestrator pings every second: silence means it is gone
    let lastTick = performance.now();
    timers.push(
      setInterval(() => {
        const now = performance.now();
        if (now - lastTick > 1_000) lastControl = now; // this process was busy: give the pings time to be read
        lastTick = now;
        const down = connection.downFor(now);
        if (down > assignment.reconnectTimeoutMs) {
          finish(1, `the NATS server at ${redactUrl(options.url)} has been unreachable for ${(down / 1000).toFixed(0)} s; leaving`);
          return;
        }
        if (down > 0) lastControl = now; // silence is the server's doing, not the orchestrator's
        if (now - lastControl > assignment.orchestratorTimeoutMs) {
          finish(1, `no message from the orchestrator for ${(assignment.orchestratorTimeoutMs / 1000).toFixed(0)} s; leaving`);
        }
      }, 250),
    );
    const channel: Channel<ReportMessage | ControlMessage> = {
      send: (r) => {
        const m = r as ReportMessage;
        const report: ReportMessage = m.kind === 'stats' ? { ...m, stats: { ...m.stats, rejected: rejected() } } : m;
        send({ kind: 'report', stage, instance, report });
      },
      onMessage: (handler) => {
        deliver = handler;
        for (const m of queued.splice(0)) handler(m);
      },
      close: () => undefined,
    };
    serveStage(spec, links, channel).then(
      (stats: StageStats) => {
        send({ kind: 'stopped', stage, instance, stats: { ...stats, rejected: rejected() } });
        finish(0, `stage ${stage} stopped`);
      },
      failed,
    );
  };

  await control.flush();
  const t0 = performance.now();
  const hello = (): void => {
    if (assigned || finished) return;
    if (performance.now() - t0 > options.joinTimeoutMs) {
      finish(1, `no orchestrator assigned stage ${stage} of run ${run} within ${(options.joinTimeoutMs / 1000).toFixed(0)} s (are the run id and stage right, and is synthgrad train --transport nats running?)`);
      return;
    }
    send({ kind: 'hello', stage, instance, host: hostname().slice(0, 256), pid: process.pid });
  };
  hello();
  timers.push(setInterval(hello, HELLO_EVERY_MS));
  nc.closed().then((error) => finish(1, `the NATS connection closed${error ? `: ${error.message}` : ''}`));

  const result = await ended;
  // the last words, if the server is there to take them (bounded: it may be gone)
  await within(reports.flush().catch(() => undefined), 2_000);
  links?.close();
  control.close();
  reports.close();
  await nc.close().catch(() => undefined);
  return result;
}
