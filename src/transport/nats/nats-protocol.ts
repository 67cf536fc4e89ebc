/**
 * What travels on a run's control and report subjects when stages are processes talking over NATS
 * (the data subjects carry the ForwardMessage / BackwardMessage of protocol.ts unchanged), and the
 * validators that keep anything else out.
 *
 * Joining: a stage process subscribes to `synthgrad.<run>.<K>.control`, then says `hello` on
 * `synthgrad.<run>.<K>.stats` every second with a random instance id until the orchestrator
 * `assign`s it (the spec of stage K, restored state inline) or `refuse`s it (the stage is served).
 * From then on the stage sends `heartbeat`s, its reports wrapped in `report`, `reconnected` after
 * its connection to the server was down (messages to it may have been lost meanwhile), and at the
 * end `stopped` (its final statistics) or `failed`. The orchestrator sends control messages and a
 * `ping` every second; `leave` tells an instance to exit (the run is over, or it was replaced).
 */
import type { ControlMessage, ReportMessage, StageFailure, StageStats } from '../../stage/protocol.js';
import type { StageSpec } from '../../stage/stage-spec.js';
import { modes } from '../../config/schema.js';
import { validateRelayedDones } from './message-validators.js';
import { fail, finite, int, only, record, text } from './field-checks.js';

/** Sender identities in the NATS header (see NatsChannel). */
export const ORCHESTRATOR_SENDER = 'orchestrator';
export function stageSender(stage: number): string {
  return `stage-${stage}`;
}

export const INSTANCE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Limits a stage applies to incoming data (the largest batch the run sends). */
export interface StageLimits {
  maxRows: number;
}

/** orchestrator -> stage, on `synthgrad.<run>.<K>.control` */
export type ControlWire =
  | Exclude<ControlMessage, { kind: 'rewire' }>
  | {
      kind: 'assign';
      instance: string;
      spec: StageSpec;
      heartbeatMs: number;
      orchestratorTimeoutMs: number;
      /** How long the stage keeps trying to reach a NATS server that went away before it leaves. */
      reconnectTimeoutMs: number;
      limits: StageLimits;
    }
  | { kind: 'refuse'; instance: string; reason: string }
  | { kind: 'ping' }
  /** Exit now: the run is over (no instance) or this instance was replaced. */
  | { kind: 'leave'; instance?: string; reason: string };

/** stage -> orchestrator, on `synthgrad.<run>.<K>.stats` */
export type StageWire =
  | { kind: 'hello'; stage: number; instance: string; host: string; pid: number }
  | { kind: 'heartbeat'; stage: number; instance: string }
  /** The stage's connection to the server was down for `downMs` and is back: messages to it may be lost. */
  | { kind: 'reconnected'; stage: number; instance: string; downMs: number }
  | { kind: 'report'; stage: number; instance: string; report: ReportMessage }
  | { kind: 'stopped'; stage: number; instance: string; stats: StageStats }
  | ({ kind: 'failed'; stage: number; instance: string } & StageFailure);





function nullableNumber(value: unknown, name: string): void {
  if (value !== null && value !== undefined && typeof value !== 'number') fail(`${name} must be a number or null`);
}

/** A per-example shape of 1 to 3 dimensions with at most 2^24 values in all. */
function shape(value: unknown, name: string): void {
  if (!Array.isArray(value) || value.length < 1 || value.length > 3) fail(`${name} must be a list of 1 to 3 integers`);
  const size = value.reduce((n: number, d: unknown, i: number) => n * int(d, `${name}[${i}]`, 1, 1 << 24), 1);
  if (size > 1 << 24) fail(`${name} must have at most ${1 << 24} values in all`);
}


function instance(value: unknown): string {
  if (typeof value !== 'string' || !INSTANCE_PATTERN.test(value)) fail('instance must be 1-64 letters, digits, - or _');
  return value;
}


function stageField(m: Record<string, unknown>, stage: number): void {
  if (m.stage !== stage) fail(`stage must be ${stage}`);
}

/** The parts of a spec that size what the stage allocates and accepts. */
function validateSpec(value: unknown, stage: number): void {
  const spec = record(value, 'spec');
  if (spec.index !== stage) fail(`spec.index must be ${stage}`);
  int(spec.count, 'spec.count', stage + 1, 4096);
  int(spec.inputUnits, 'spec.inputUnits', 1, 1 << 24);
  shape(spec.inputShape, 'spec.inputShape');
  shape(spec.outputShape, 'spec.outputShape');
  int(spec.classes, 'spec.classes', 2, 1 << 16);
  int(spec.cacheSize, 'spec.cacheSize', 1, 1 << 16);
  int(spec.firstLayer, 'spec.firstLayer');
  if (!(modes as readonly unknown[]).includes(spec.mode)) fail(`spec.mode must be ${modes.join(', ')}`);
  if (!['lockstep', 'async', 'pipelined'].includes(spec.schedule as string)) fail('spec.schedule must be lockstep, async or pipelined');
  if (!Array.isArray(spec.layers) || spec.layers.length === 0 || spec.layers.length > 1024) fail('spec.layers must be a non-empty array');
  for (const layer of spec.layers) text(record(layer, 'spec.layers[]').type, 'spec.layers[].type', 16);
  text(spec.seed, 'spec.seed', 256);
  if (spec.syntheticInputs != null) fail('spec.syntheticInputs: synthetic inputs (complete unlock) run in worker threads only for now');
  if (spec.restore !== undefined) text(spec.restore, 'spec.restore', 4096);
  if (spec.restoreState !== undefined && !(spec.restoreState instanceof Uint8Array)) fail('spec.restoreState must be bytes');
}

/** Accepts what the orchestrator may send to stage `stage` on its control subject. */
export function controlWireValidator(stage: number): (value: unknown) => asserts value is ControlWire {
  return (value: unknown): asserts value is ControlWire => {
    const m = record(value);
    switch (m.kind) {
      case 'stats':
      case 'weights':
      case 'stop':
      case 'ping':
        return only(m, ['kind']);
      case 'checkpoint':
        only(m, ['kind', 'file', 'step', 'inline']);
        text(m.file, 'file', 4096);
        int(m.step, 'step');
        if (m.inline !== undefined && typeof m.inline !== 'boolean') fail('inline must be a boolean');
        return;
      case 'priority':
        only(m, ['kind', 'nice']);
        int(m.nice, 'nice', 0, 19);
        return;
      case 'abandon':
        only(m, ['kind', 'steps', 'probe']);
        if (!Array.isArray(m.steps) || m.steps.length > 1 << 20) fail('steps must be an array');
        for (const s of m.steps) int(s, 'steps[]');
        if (m.probe !== undefined && m.probe !== true) fail('probe must be true when present');
        return;
      case 'assign': {
        only(m, ['kind', 'instance', 'spec', 'heartbeatMs', 'orchestratorTimeoutMs', 'reconnectTimeoutMs', 'limits']);
        instance(m.instance);
        validateSpec(m.spec, stage);
        int(m.heartbeatMs, 'heartbeatMs', 10, 600_000);
        int(m.orchestratorTimeoutMs, 'orchestratorTimeoutMs', 100, 86_400_000);
        int(m.reconnectTimeoutMs, 'reconnectTimeoutMs', 100, 86_400_000);
        int(record(m.limits, 'limits').maxRows, 'limits.maxRows', 1, 1 << 24);
        return;
      }
      case 'refuse':
        only(m, ['kind', 'instance', 'reason']);
        instance(m.instance);
        text(m.reason, 'reason', 4096);
        return;
      case 'leave':
        only(m, ['kind', 'instance', 'reason']);
        if (m.instance !== undefined) instance(m.instance);
        text(m.reason, 'reason', 4096);
        return;
      default:
        fail(`unknown control message kind ${JSON.stringify(String(m.kind).slice(0, 40))}`);
    }
  };
}

function validateStats(value: unknown, stage: number): void {
  const s = record(value, 'stats');
  stageField(s, stage);
  for (const key of ['busySeconds', 'waitSeconds', 'sendSeconds']) finite(s[key], `stats.${key}`);
  for (const key of ['updates', 'skippedUpdates', 'synthesizerUpdates', 'evicted', 'droppedNonFinite']) int(s[key], `stats.${key}`);
  if (s.synthesizerRepredictions !== undefined) int(s.synthesizerRepredictions, 'stats.synthesizerRepredictions');
  nullableNumber(s.synthesizerLoss, 'stats.synthesizerLoss');
  nullableNumber(s.synthesizerCosine, 'stats.synthesizerCosine');
  for (const key of ['timeSynthesizerLoss', 'timeSynthesizerCosine']) if (s[key] !== undefined) nullableNumber(s[key], `stats.${key}`);
  if (s.rejected !== undefined) for (const [k, v] of Object.entries(record(s.rejected, 'stats.rejected'))) int(v, `stats.rejected.${k.slice(0, 40)}`);
  for (const key of ['cpuSeconds', 'runQueueSeconds', 'receiveSeconds', 'readSeconds']) if (s[key] !== undefined) finite(s[key], `stats.${key}`);
  for (const key of ['sends', 'receives', 'reads']) if (s[key] !== undefined) int(s[key], `stats.${key}`);
  for (const key of ['sendMedianMs', 'receiveMedianMs']) if (s[key] !== undefined) nullableNumber(s[key], `stats.${key}`);
  if (s.memory !== undefined) {
    const memory = record(s.memory, 'stats.memory');
    for (const key of ['rssBytes', 'tensors', 'tensorBytes']) int(memory[key], `stats.memory.${key}`);
    if (memory.wasmHeapBytes !== null) int(memory.wasmHeapBytes, 'stats.memory.wasmHeapBytes');
    if (memory.jsHeapBytes !== undefined) int(memory.jsHeapBytes, 'stats.memory.jsHeapBytes');
  }
}

function validateReport(value: unknown, stage: number): void {
  const m = record(value, 'report');
  switch (m.kind) {
    case 'ready':
      stageField(m, stage);
      text(m.backend, 'backend', 64);
      if (m.adapter !== null) {
        const a = record(m.adapter, 'adapter');
        for (const key of ['vendor', 'architecture', 'device', 'description']) text(a[key], `adapter.${key}`, 1024);
        if (typeof a.software !== 'boolean') fail('adapter.software must be a boolean');
      }
      if (!Array.isArray(m.skipped)) fail('skipped must be an array');
      for (const s of m.skipped) {
        const r = record(s, 'skipped[]');
        text(r.candidate, 'skipped[].candidate', 256);
        text(r.reason, 'skipped[].reason', 4096);
      }
      if (m.restoredStep !== null) int(m.restoredStep, 'restoredStep');
      return;
    case 'checkpointed':
      stageField(m, stage);
      int(m.step, 'step');
      text(m.file, 'file', 4096);
      int(m.bytes, 'bytes');
      if (m.state !== undefined && !(m.state instanceof Uint8Array)) fail('state must be bytes');
      return;
    case 'rewired':
      return stageField(m, stage);
    case 'log':
      stageField(m, stage);
      if (!['info', 'warn', 'debug'].includes(m.level as string)) fail('level must be info, warn or debug');
      text(m.msg, 'msg');
      if (m.data !== undefined) record(m.data, 'data');
      return;
    case 'done':
      stageField(m, stage);
      int(m.step, 'step');
      if (m.loss !== undefined) finite(m.loss, 'loss');
      if (m.correct !== undefined) int(m.correct, 'correct');
      if (m.rows !== undefined) int(m.rows, 'rows');
      if (m.dropped !== undefined && m.dropped !== 'here' && m.dropped !== 'above') fail('dropped must be here or above');
      // a stage reports the dones of stages above it only
      if (m.relayed !== undefined) validateRelayedDones(m.relayed, 'relayed', stage);
      return;
    case 'probe':
      stageField(m, stage);
      if (m.cosine !== null) finite(m.cosine, 'cosine');
      return;
    case 'eval': {
      stageField(m, stage);
      const tag = record(m.tag, 'tag');
      if (tag.split !== 'validation' && tag.split !== 'test') fail('tag.split must be validation or test');
      int(tag.index, 'tag.index');
      if (typeof m.lossSum !== 'number') fail('lossSum must be a number');
      int(m.correct, 'correct');
      int(m.rows, 'rows');
      return;
    }
    case 'stats':
      validateStats(m.stats, stage);
      if (!Array.isArray(m.trace)) fail('trace must be an array');
      for (const e of m.trace) {
        const r = record(e, 'trace[]');
        text(r.name, 'trace[].name', 256);
        finite(r.ts, 'trace[].ts');
      }
      int(m.traceDropped, 'traceDropped');
      return;
    case 'weights':
      stageField(m, stage);
      if (!Array.isArray(m.values) || !m.values.every((v) => v instanceof Float32Array)) fail('values must be Float32Arrays');
      return;
    default:
      fail(`unknown report kind ${JSON.stringify(String(m.kind).slice(0, 40))}`);
  }
}

/** Accepts what stage `stage` may send to the orchestrator on its report subject. */
export function stageWireValidator(stage: number): (value: unknown) => asserts value is StageWire {
  return (value: unknown): asserts value is StageWire => {
    const m = record(value);
    stageField(m, stage);
    instance(m.instance);
    switch (m.kind) {
      case 'hello':
        only(m, ['kind', 'stage', 'instance', 'host', 'pid']);
        text(m.host, 'host', 256);
        int(m.pid, 'pid');
        return;
      case 'heartbeat':
        return only(m, ['kind', 'stage', 'instance']);
      case 'reconnected':
        only(m, ['kind', 'stage', 'instance', 'downMs']);
        finite(m.downMs, 'downMs');
        return;
      case 'report':
        only(m, ['kind', 'stage', 'instance', 'report']);
        return validateReport(m.report, stage);
      case 'stopped':
        only(m, ['kind', 'stage', 'instance', 'stats']);
        return validateStats(m.stats, stage);
      case 'failed':
        only(m, ['kind', 'stage', 'instance', 'message', 'stack', 'retryable']);
        text(m.message, 'message');
        if (m.stack !== undefined) text(m.stack, 'stack');
        if (typeof m.retryable !== 'boolean') fail('retryable must be a boolean');
        return;
      default:
        fail(`unknown stage message kind ${JSON.stringify(String(m.kind).slice(0, 40))}`);
    }
  };
}

/** Sums of rejection counters, nonzero reasons only. */
export function addCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [reason, n] of Object.entries(from)) if (n > 0) into[reason] = (into[reason] ?? 0) + n;
  return into;
}
