/**
 * Stages as processes over NATS (the orchestrator's side). Each stage K of run R is reached on
 * `synthgrad.R.K.*`: batches into stage 0 on `forward`, control messages on `control`, and
 * everything the stage says (hello, heartbeats, reports, its end) on `stats`.
 *
 * With `stages: 'spawn'` the host starts one local process per stage (and a local nats-server
 * when no URL is given); with `stages: 'join'` it waits for `synthgrad stage` processes started by
 * hand, on this host or others. Either way a stage that fails, exits or stops sending heartbeats
 * is reported to the pipeline, whose restart logic asks for a replacement: a process started here,
 * restored from the checkpoint the orchestrator holds (checkpoints travel as bytes, so stage
 * hosts need no shared filesystem).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ControlMessage, ForwardMessage, ReportMessage, StageFailure, StageStats } from '../../stage/protocol.js';
import type { StageSpec } from '../../stage/stage-spec.js';
import { StageError } from '../../pipeline/stage-error.js';
import type { HostDescription, StageHost, StageHostEvents } from '../../pipeline/stage-host.js';
import { writeFileAtomic } from '../../atomic-write.js';
import { rounded, silentLogger, type Logger } from '../../log.js';
import { writeCause } from '../../write-error.js';
import { NatsChannel, subject } from './nats-channel.js';
import { connectNats, credentialsFromEnv, redactUrl, tlsFromEnv, type NatsCredentials } from './nats-connect.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { addCounts, ORCHESTRATOR_SENDER, stageSender, stageWireValidator, type ControlWire, type StageWire } from './nats-protocol.js';
import { describeConnectError, TransportError } from './nats-errors.js';
import type { NatsTls } from './nats-connect.js';
import { within } from './within.js';
import { spawnStageProcess, type StageProcess } from './stage-process.js';
import { watchConnection, type ConnectionWatch } from './nats-status.js';

export interface NatsHostOptions {
  /** Names the run's subjects: letters, digits, - and _. */
  runId: string;
  /** 'spawn': one local process per stage; 'join': wait for `synthgrad stage` processes. */
  stages: 'spawn' | 'join';
  /** The server; none: start a local nats-server on a free loopback port (spawn only). */
  url?: string;
  /** With `url`; default: from the environment (tlsFromEnv). Handed to local stage processes in their environment. */
  tls?: NatsTls;
  /** Default: from the environment (credentialsFromEnv). Handed to local stage processes in their environment. */
  credentials?: NatsCredentials;
  /** How long stages may take to join (default 60 s). */
  joinTimeoutMs?: number;
  /** A stage silent for this long is taken for dead (default 5 s). */
  livenessTimeoutMs?: number;
  /** Heartbeat period of the stages (default 500 ms). */
  heartbeatMs?: number;
  /** A stage leaves when the orchestrator is silent for this long (default 15 s). */
  orchestratorTimeoutMs?: number;
  /** How long the orchestrator and the stages wait for a NATS server that went away (default 60 s). */
  reconnectTimeoutMs?: number;
  /** After the server came back, batches that finish nothing for this long are taken for lost (default 3 s). */
  lossQuietMs?: number;
  /** No report from any stage for this long while the run waits on them is an error (default 120 s). */
  stallTimeoutMs?: number;
  /** The largest batch the run sends (training or evaluation); stages refuse larger ones. */
  maxRows: number;
  logger?: Logger;
  /** Log level of local stage processes (default warn). */
  stageLogLevel?: string;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // observed through finished() or the failure event
  return { promise, resolve, reject };
}

interface Slot {
  stage: number;
  spec: StageSpec;
  control: NatsChannel<ControlWire>;
  reports: NatsChannel<StageWire>;
  state: 'awaiting' | 'assigned' | 'ready' | 'stopped' | 'failed';
  /** The process serving the stage now. */
  instance: string | null;
  /** The local process meant for the stage, when this host started one. */
  expected: string | null;
  child: StageProcess | null;
  lastSeen: number;
  joinDeadline: number;
  /** Control messages sent while no process served the stage. */
  queued: ControlWire[];
  result: Deferred<StageStats>;
}

/** A short random id for a process. */
function newInstance(): string {
  return randomBytes(6).toString('hex');
}

export class NatsStageHost implements StageHost {
  private events!: StageHostEvents;
  private readonly log: Logger;
  private server: NatsServer | null = null;
  private serverWatcher: ChildProcess | null = null;
  private nc: NatsConnection | null = null;
  private url = '';
  private credentials: NatsCredentials = {};
  private tls: NatsTls | undefined;
  private input!: NatsChannel<ForwardMessage>;
  private readonly slots: Slot[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly children = new Set<StageProcess>();
  private readonly joinTimeoutMs: number;
  private readonly livenessTimeoutMs: number;
  private readonly heartbeatMs: number;
  private readonly orchestratorTimeoutMs: number;
  private readonly reconnectTimeoutMs: number;
  /** Core NATS delivers at most once: the pipeline looks for lost batches and stalls (see LostSteps). */
  readonly delivery: { lossQuietMs: number; stallTimeoutMs: number };
  private connection: ConnectionWatch | null = null;
  /** When this host's connection came back, until every stage has been heard from again. */
  private recovering: { since: number; downMs: number } | null = null;
  private lastInterruption = -Infinity;
  /** The server stayed away longer than reconnectTimeoutMs (the run was failed once). */
  private serverGone = false;
  /** Messages from processes that no longer (or never did) serve a stage. */
  private stale = 0;
  private everReady = false;
  private destroyed = false;

  constructor(private readonly options: NatsHostOptions) {
    this.log = options.logger ?? silentLogger;
    this.joinTimeoutMs = options.joinTimeoutMs ?? 60_000;
    this.livenessTimeoutMs = options.livenessTimeoutMs ?? 5_000;
    this.heartbeatMs = options.heartbeatMs ?? 500;
    this.orchestratorTimeoutMs = options.orchestratorTimeoutMs ?? 15_000;
    this.reconnectTimeoutMs = options.reconnectTimeoutMs ?? 60_000;
    // a run waiting for the server to come back is not stalled: the reconnection limit applies first
    const stallTimeoutMs = Math.max(options.stallTimeoutMs ?? 120_000, this.reconnectTimeoutMs + this.livenessTimeoutMs);
    this.delivery = { lossQuietMs: options.lossQuietMs ?? 3_000, stallTimeoutMs };
    subject(options.runId, 0, 'control'); // checks the run id
    if (options.stages === 'join' && !options.url) throw new TransportError('stages that join a run need a NATS server: give its URL (--nats)');
  }

  /** What this host is, for the run's summary. */
  describe(): HostDescription {
    return { kind: 'nats', stages: this.options.stages, server: redactUrl(this.url), localServer: this.server !== null, runId: this.options.runId, rejected: this.rejected() };
  }

  /** Messages the orchestrator refused from the stage subjects, by reason. */
  rejected(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const slot of this.slots) addCounts(counts, slot.reports.rejected);
    return addCounts(counts, { stale: this.stale });
  }

  async start(specs: StageSpec[], events: StageHostEvents): Promise<void> {
    this.events = events;
    const { runId } = this.options;
    if (this.options.url) {
      this.url = this.options.url;
      this.credentials = this.options.credentials ?? credentialsFromEnv();
      try {
        this.tls = this.options.tls ?? tlsFromEnv();
      } catch (error) {
        throw new TransportError((error as Error).message, { cause: error });
      }
    } else {
      // a private server: loopback only, with a token that only our stage processes get
      const token = randomBytes(24).toString('hex');
      try {
        this.server = await startNatsServer({ token, maxPayload: 8 * 1024 * 1024, onExit: (how) => void this.restartLocalServer(how) });
      } catch (error) {
        throw new TransportError(`--placement process needs a NATS server: ${(error as Error).message}`, { cause: error });
      }
      this.url = this.server.url;
      this.credentials = { token };
      this.serverWatcher = watchOrchestrator(this.server.pid);
    }
    try {
      this.nc = await connectNats({
        url: this.url,
        name: `synthgrad-${runId}-orchestrator`,
        ...this.credentials,
        tlsCa: this.tls?.ca,
        tlsCert: this.tls?.cert,
        tlsKey: this.tls?.key,
      });
    } catch (error) {
      throw new TransportError(describeConnectError(error, this.url, this.tls), { cause: error });
    }
    const nc = this.nc;
    this.input = new NatsChannel<ForwardMessage>({ connection: nc, subject: subject(runId, 0, 'forward'), sender: ORCHESTRATOR_SENDER });
    const deadline = performance.now() + this.joinTimeoutMs;
    for (const spec of specs) {
      const s = spec.index;
      const slot: Slot = {
        stage: s,
        spec,
        control: new NatsChannel<ControlWire>({ connection: nc, subject: subject(runId, s, 'control'), sender: ORCHESTRATOR_SENDER }),
        reports: new NatsChannel<StageWire>({
          connection: nc,
          subject: subject(runId, s, 'stats'),
          allowedSenders: [stageSender(s)],
          validate: stageWireValidator(s),
          onReject: (reason, detail) => this.log.warn({ stage: s, reason, detail: detail.slice(0, 300) }, 'orchestrator rejected a message'),
          onHandlerError: (error) => this.events.fail(error as Error),
        }),
        state: 'awaiting',
        instance: null,
        expected: null,
        child: null,
        lastSeen: performance.now(),
        joinDeadline: deadline,
        queued: [],
        result: deferred(),
      };
      slot.reports.onMessage((m) => this.receive(slot, m));
      this.slots.push(slot);
    }
    await nc.flush();
    this.connection = watchConnection(nc, {
      disconnected: () =>
        this.log.warn({ server: redactUrl(this.url) }, `lost the NATS server; reconnecting (for up to ${(this.reconnectTimeoutMs / 1000).toFixed(0)} s)`),
      reconnected: (downMs) => {
        this.log.warn({ server: redactUrl(this.url), downSeconds: rounded(downMs / 1000, 3) }, 'reconnected to the NATS server; waiting to hear from every stage');
        const now = performance.now();
        this.recovering = { since: now, downMs };
        // the stages get their full liveness timeout from now
        for (const slot of this.slots) slot.lastSeen = Math.max(slot.lastSeen, now);
      },
    });
    void nc.closed().then((error) => {
      if (!this.destroyed) this.events.fail(new TransportError(`the NATS connection closed${error ? `: ${error.message}` : ''}`));
    });
    if (this.options.stages === 'spawn') {
      for (const slot of this.slots) this.spawn(slot);
      this.log.info({ server: redactUrl(this.url), localServer: this.server !== null, serverPid: this.server?.pid, runId }, `started ${specs.length} stage processes`);
    } else {
      const server = redactUrl(this.url);
      this.log.info(
        { server, runId, joinTimeoutSeconds: this.joinTimeoutMs / 1000 },
        `waiting for ${specs.length} stages to join: on each host run synthgrad stage --nats ${server} --run ${runId} --stage K (K = 0..${specs.length - 1})`,
      );
    }
    this.timers.push(setInterval(() => this.ping(), 1_000));
    let lastTick = performance.now();
    this.timers.push(
      setInterval(() => {
        const now = performance.now();
        const late = now - lastTick > 1_000; // this process was busy: the stages' messages are still unread
        lastTick = now;
        this.watch(now, late);
      }, 250),
    );
  }

  send(message: ForwardMessage): void {
    this.input.send(message);
  }

  control(stage: number, message: ControlMessage): void {
    if (message.kind === 'rewire') return; // links over NATS never change
    const slot = this.slots[stage];
    // checkpoints travel back as bytes: the orchestrator writes the files
    const wire: ControlWire = message.kind === 'checkpoint' ? { ...message, inline: true } : message;
    if (slot.state === 'assigned' || slot.state === 'ready') slot.control.send(wire);
    else slot.queued.push(wire);
  }

  finished(): Promise<StageStats[]> {
    return Promise.all(this.slots.map((s) => s.result.promise));
  }

  replace(spec: StageSpec): number {
    const slot = this.slots[spec.index];
    if (slot.instance) slot.control.send({ kind: 'leave', instance: slot.instance, reason: 'replaced after a failure' });
    slot.child?.kill('SIGKILL');
    slot.spec = spec;
    slot.state = 'awaiting';
    slot.instance = null;
    slot.queued = [];
    slot.result = deferred();
    slot.joinDeadline = performance.now() + this.joinTimeoutMs;
    this.spawn(slot); // the replacement runs here, whichever host ran the failed one
    return 0;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const t of this.timers) clearInterval(t);
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      for (const slot of this.slots) {
        // processes still serving, and any still saying hello, leave now
        slot.control.send({ kind: 'leave', reason: 'the run ended' });
      }
      // bounded: with the server gone, a flush would wait for it forever
      await within(nc.flush().catch(() => undefined), 2_000);
    }
    await Promise.all(
      [...this.children].map(async (child) => {
        const exited = await within(child.exited, 3_000);
        if (!exited) {
          child.kill('SIGKILL');
          await child.exited;
        }
      }),
    );
    for (const slot of this.slots) {
      slot.control.close();
      slot.reports.close();
    }
    this.input?.close();
    if (nc) await nc.close().catch(() => undefined);
    await this.server?.stop();
    this.serverWatcher?.kill();
  }

  private spawn(slot: Slot): void {
    const instance = newInstance();
    slot.expected = instance;
    const child = spawnStageProcess({
      url: this.url,
      run: this.options.runId,
      stage: slot.stage,
      instance,
      credentials: this.credentials,
      tls: this.tls,
      logLevel: this.options.stageLogLevel,
      onOutput: (line) => this.log.debug({ stage: slot.stage, pid: child.pid }, line),
    });
    slot.child = child;
    this.children.add(child);
    void child.exited.then(async ({ code, signal }) => {
      this.children.delete(child);
      if (this.destroyed || slot.child !== child) return;
      // a stage that failed says so before it exits: give its last words a moment to arrive
      await sleep(300);
      if (this.destroyed || slot.child !== child || slot.state === 'stopped' || slot.state === 'failed') return;
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      const output = child.output().trim().split('\n').slice(-3).join(' | ');
      const error = new Error(`its process ${how}${output ? `: ${output.slice(-600)}` : ''}`);
      if (!this.everReady && slot.state === 'awaiting') {
        this.events.fail(new TransportError(`stage ${slot.stage}'s process ${how} before it joined${output ? `: ${output.slice(-600)}` : ''}`));
      } else {
        this.failed(slot, error);
      }
    });
  }

  private receive(slot: Slot, m: StageWire): void {
    if (this.destroyed) return;
    if (m.kind === 'hello') return this.hello(slot, m);
    if (m.instance !== slot.instance || slot.state === 'stopped' || slot.state === 'failed') {
      this.stale += 1;
      return;
    }
    slot.lastSeen = performance.now();
    switch (m.kind) {
      case 'heartbeat':
        return;
      case 'reconnected':
        return this.stageReconnected(slot, m.downMs);
      case 'report':
        return this.report(slot, m.report);
      case 'stopped':
        slot.state = 'stopped';
        slot.result.resolve(m.stats);
        return;
      case 'failed':
        return this.failed(slot, m);
    }
  }

  private hello(slot: Slot, m: Extract<StageWire, { kind: 'hello' }>): void {
    if (slot.state === 'awaiting' && (slot.expected === null || slot.expected === m.instance)) return this.assign(slot, m);
    if (m.instance === slot.instance) {
      if (slot.state === 'assigned') this.sendAssign(slot); // it may have missed the first one
      return;
    }
    const why = slot.instance ? `stage ${slot.stage} of run ${this.options.runId} is already served by another process` : `stage ${slot.stage} of run ${this.options.runId} waits for the process the orchestrator started`;
    slot.control.send({ kind: 'refuse', instance: m.instance, reason: why });
    this.log.warn({ stage: slot.stage, instance: m.instance, host: m.host, pid: m.pid }, `refused a process for stage ${slot.stage}: ${why}`);
  }

  private assign(slot: Slot, m: Extract<StageWire, { kind: 'hello' }>): void {
    slot.instance = m.instance;
    slot.state = 'assigned';
    slot.lastSeen = performance.now();
    this.sendAssign(slot);
    for (const q of slot.queued.splice(0)) slot.control.send(q);
    this.log.info({ stage: slot.stage, instance: m.instance, host: m.host, pid: m.pid }, `stage ${slot.stage} joined`);
  }

  private sendAssign(slot: Slot): void {
    const spec: StageSpec = { ...slot.spec };
    if (spec.restore) {
      try {
        spec.restoreState = readFileSync(spec.restore);
      } catch (error) {
        this.failed(slot, new Error(`cannot read its checkpoint ${spec.restore}: ${(error as Error).message}`));
        return;
      }
    }
    slot.control.send({
      kind: 'assign',
      instance: slot.instance!,
      spec,
      heartbeatMs: this.heartbeatMs,
      orchestratorTimeoutMs: this.orchestratorTimeoutMs,
      reconnectTimeoutMs: this.reconnectTimeoutMs,
      limits: { maxRows: this.options.maxRows },
    });
  }

  private report(slot: Slot, report: ReportMessage): void {
    if (report.kind === 'ready') {
      slot.state = 'ready';
      if (this.slots.every((s) => s.state === 'ready')) this.everReady = true;
    }
    if (report.kind === 'checkpointed' && report.state) {
      const { state, ...rest } = report;
      try {
        writeFileAtomic(report.file, state);
      } catch (error) {
        return this.events.report({ ...rest, error: writeCause(error) }); // the run's disk, not the stage, failed
      }
      return this.events.report(rest);
    }
    this.events.report(report);
  }

  /** The current process of a stage failed: it is ended and the pipeline decides. */
  private failed(slot: Slot, cause: Pick<StageFailure, 'message' | 'stack'> & { retryable?: boolean }): void {
    if (this.destroyed || slot.state === 'stopped' || slot.state === 'failed') return;
    slot.state = 'failed';
    if (slot.child?.alive()) slot.child.kill('SIGKILL');
    if (slot.instance) slot.control.send({ kind: 'leave', instance: slot.instance, reason: 'taken for failed' });
    const error = new StageError(slot.stage, cause);
    slot.result.reject(error);
    this.events.failed(slot.stage, error);
  }

  private ping(): void {
    for (const slot of this.slots) if (slot.state === 'assigned' || slot.state === 'ready') slot.control.send({ kind: 'ping' });
  }

  /**
   * The private nats-server of `--placement process` died (killed, crashed): start it again on
   * the same port, and everyone reconnects as after any server restart.
   */
  private async restartLocalServer(how: string): Promise<void> {
    const server = this.server;
    if (this.destroyed || server === null) return;
    this.log.warn({ port: server.port, how }, `the local nats-server exited (${how}); starting it again on port ${server.port}`);
    try {
      await server.restart();
    } catch (error) {
      if (!this.destroyed) this.events.fail(new TransportError(`the local nats-server exited (${how}) and could not be started again: ${(error as Error).message}`));
      return;
    }
    this.serverWatcher?.kill();
    this.serverWatcher = watchOrchestrator(server.pid);
  }

  /**
   * The server went away and came back. While this host is cut off, silence proves nothing: the
   * stages get their full liveness timeout once it is back, and the run fails only when the
   * server stays away longer than `reconnectTimeoutMs`. Once every stage has been heard from
   * again, the pipeline is told that messages may have been lost.
   */
  private watchConnection(now: number): boolean {
    const down = this.connection?.downFor(now) ?? 0;
    const active = this.slots.filter((s) => s.state === 'assigned' || s.state === 'ready');
    if (down > 0) for (const slot of active) slot.lastSeen = now;
    if (down > this.reconnectTimeoutMs) {
      if (this.serverGone) return false;
      this.serverGone = true;
      this.events.fail(
        new TransportError(
          `the NATS server at ${redactUrl(this.url)} has been unreachable for ${(down / 1000).toFixed(0)} s (the limit is ${(this.reconnectTimeoutMs / 1000).toFixed(0)} s): ` +
            `no stage can be reached (is nats-server running at that address?)`,
        ),
      );
      return false;
    }
    if (down > 0) return false;
    const recovering = this.recovering;
    if (recovering !== null && active.every((s) => s.lastSeen > recovering.since)) {
      this.recovering = null;
      this.interrupted(`the NATS server was unreachable for ${(recovering.downMs / 1000).toFixed(1)} s`);
    }
    return true;
  }

  private stageReconnected(slot: Slot, downMs: number): void {
    this.log.warn({ stage: slot.stage, downSeconds: rounded(downMs / 1000, 3) }, `stage ${slot.stage} reconnected to the NATS server`);
    // the same outage as one this host saw (or another stage reported) just now: counted once
    if (this.recovering !== null || (this.connection?.downFor() ?? 0) > 0) return;
    if (performance.now() - this.lastInterruption < this.livenessTimeoutMs + downMs) return;
    this.interrupted(`stage ${slot.stage}'s connection to the NATS server was down for ${(downMs / 1000).toFixed(1)} s`);
  }

  private interrupted(why: string): void {
    this.lastInterruption = performance.now();
    this.events.interrupted?.(why);
  }

  private watch(now: number, late: boolean): void {
    if (this.destroyed || !this.watchConnection(now)) return;
    const missing: Slot[] = [];
    for (const slot of this.slots) {
      if (late) slot.lastSeen = Math.max(slot.lastSeen, now - this.livenessTimeoutMs / 2);
      if ((slot.state === 'assigned' || slot.state === 'ready') && now - slot.lastSeen > this.livenessTimeoutMs) {
        this.failed(slot, new Error(`no heartbeat for ${(this.livenessTimeoutMs / 1000).toFixed(1)} s: its process stopped or lost its connection`));
      } else if (slot.state === 'awaiting' && now > slot.joinDeadline) {
        missing.push(slot);
      }
    }
    if (missing.length === 0) return;
    if (!this.everReady) {
      for (const slot of missing) slot.joinDeadline = Infinity;
      const list = missing.map((s) => s.stage).join(', ');
      const server = redactUrl(this.url);
      const seconds = (this.joinTimeoutMs / 1000).toFixed(0);
      const how =
        this.options.stages === 'join'
          ? `start each with: synthgrad stage --nats ${server} --run ${this.options.runId} --stage K`
          : `their processes did not connect to ${server}`;
      this.events.fail(
        new TransportError(`stage${missing.length > 1 ? 's' : ''} ${list} of ${this.slots.length} did not join run ${this.options.runId} within ${seconds} s (${how})`),
      );
      return;
    }
    for (const slot of missing) this.failed(slot, new Error(`its replacement process did not join within ${(this.joinTimeoutMs / 1000).toFixed(0)} s`));
  }
}

/**
 * The local nats-server must not outlive the orchestrator, even when it is killed outright (an
 * exit handler does not run then): a small detached shell stops it once this process is gone.
 */
function watchOrchestrator(serverPid: number | undefined): ChildProcess | null {
  if (serverPid === undefined || process.platform === 'win32') return null;
  try {
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill ${serverPid} 2>/dev/null`;
    const watcher = spawn('/bin/sh', ['-c', script], { stdio: 'ignore', detached: true });
    watcher.on('error', () => undefined);
    watcher.unref();
    return watcher;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

