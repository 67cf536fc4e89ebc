/**
 * Validators for decoded stage messages (`NatsChannel`'s `validate` option): they check kind,
 * field types and sizes, and throw on anything else, so a stage never sees a malformed message.
 */
import type { ControlMessage, DataMessage } from '../../stage/protocol.js';
import { fail, finite, int, only, record } from './field-checks.js';

export interface DataMessageLimits {
  /** Largest batch (rows) accepted (default 65536). */
  maxRows?: number;
  /** Largest activations / gradient length in floats (default 16M = 64 MiB). */
  maxValues?: number;
}

/**
 * A list of dones passed down (RelayedDone[]): at most 1024 entries, each of a stage above
 * `below` (the stage that carries or reports them), with the last stage's figures when present.
 */
export function validateRelayedDones(value: unknown, name: string, below: number): void {
  if (!Array.isArray(value) || value.length > 1024) fail(`${name} must be a list of at most 1024 dones`);
  for (const entry of value) {
    const d = record(entry);
    if (typeof d.stage !== 'number' || !Number.isSafeInteger(d.stage) || d.stage <= below) fail(`${name}[].stage must be a stage above ${below}`);
    if (d.loss !== undefined) finite(d.loss, `${name}[].loss`);
    for (const key of ['correct', 'rows'] as const) if (d[key] !== undefined) int(d[key], `${name}[].${key}`);
    only(d, ['stage', 'loss', 'correct', 'rows'], ` in ${name}[]`);
  }
}

/** `validateDataMessage` with limits. */
export function dataMessageValidator(limits: DataMessageLimits = {}): (value: unknown) => asserts value is DataMessage {
  const maxRows = limits.maxRows ?? 65536;
  const maxValues = limits.maxValues ?? 16 * 1024 * 1024;
  return (value: unknown): asserts value is DataMessage => {
    const m = record(value);
    if (m.kind === 'forward') {
      const forwardOnly = (m.eval !== undefined && m.eval !== null) || m.marker !== undefined || m.probe !== undefined;
      // evaluation batches and flush markers carry step -1
      if (!(forwardOnly && m.step === -1)) int(m.step, 'step');
      if (m.marker !== undefined && m.marker !== true) fail('marker must be true when present');
      if (m.probe !== undefined && m.probe !== true) fail('probe must be true when present');
      const rows = int(m.rows, 'rows', 0, maxRows);
      if (!(m.activations instanceof Float32Array)) fail('activations must be a Float32Array');
      if (m.activations.length > maxValues) fail(`activations longer than ${maxValues}`);
      if (rows === 0 ? m.activations.length !== 0 : m.activations.length % rows !== 0) fail(`activations length ${m.activations.length} is not a multiple of rows ${rows}`);
      if (!(m.labels instanceof Uint8Array) || m.labels.length !== rows) fail('labels must be a Uint8Array of length rows');
      if (m.eval !== undefined && m.eval !== null) {
        const tag = record(m.eval, 'eval');
        if (tag.split !== 'validation' && tag.split !== 'test') fail('eval.split must be validation or test');
        int(tag.index, 'eval.index');
      }
      only(m, ['kind', 'step', 'rows', 'activations', 'labels', 'eval', 'marker', 'probe']);
      return;
    }
    if (m.kind === 'backward') {
      if (m.probe !== undefined) {
        // the gradient probe: step -1, the true gradient, what the sender sends in training, the error
        if (m.probe !== true || m.step !== -1) fail('probe must be true, with step -1');
        for (const key of ['gradient', 'used', 'error'] as const) {
          if (!(m[key] instanceof Float32Array) || m[key].length > maxValues) fail(`${key} of a gradient probe must be a Float32Array of at most ${maxValues} values`);
        }
      } else {
        int(m.step, 'step');
        // kickback: the last stage's output error e beside the target
        if (m.error != null && (!(m.error instanceof Float32Array) || m.error.length > maxValues)) fail(`error must be a Float32Array of at most ${maxValues} values`);
      }
      if (m.gradient !== null && !(m.gradient instanceof Float32Array)) fail('gradient must be a Float32Array or null');
      if (m.gradient !== null && m.gradient.length > maxValues) fail(`gradient longer than ${maxValues}`);
      if (typeof m.synthetic !== 'boolean') fail('synthetic must be a boolean');
      // the sender (a stage above the receiver, whose index this validator does not know) and stages above it
      if (m.done !== undefined) validateRelayedDones(m.done, 'done', 0);
      only(m, ['kind', 'step', 'gradient', 'synthetic', 'done', 'probe', 'used', 'error']);
      return;
    }
    fail(`unknown data message kind ${JSON.stringify(String(m.kind).slice(0, 40))}`);
  };
}

/** Accepts a well-formed ForwardMessage or BackwardMessage (default limits). */
export const validateDataMessage: (value: unknown) => asserts value is DataMessage = dataMessageValidator();
