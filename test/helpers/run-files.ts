import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/resolve.js';
import { ConfigError } from '../../src/config/errors.js';
import { decodeStageState, type StageState } from '../../src/stage/stage-state.js';
import type { Manifest } from '../../src/checkpoint/manifest.js';

/** metrics.jsonl of a run without its wall-clock fields (time, seconds). */
export function metricsWithoutTimes(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const { time, seconds, ...rest } = JSON.parse(line) as Record<string, unknown>;
      void time;
      void seconds;
      return rest;
    });
}

/** Waits until `file` holds `text` (polled), failing after two minutes with `why()`. */
export async function waitForText(file: string, text: string, why: () => string): Promise<void> {
  const started = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    let content = '';
    try {
      content = readFileSync(file, 'utf8');
    } catch {}
    if (content.includes(text)) return;
    assert.ok(Date.now() - started < 120_000, `no progress: ${why()}`);
  }
}

/** Every stage's state in a run directory's checkpoint. */
export function checkpointStates(run: string): StageState[] {
  const m = JSON.parse(readFileSync(join(run, 'checkpoint', 'manifest.json'), 'utf8')) as Manifest;
  return m.stages.map((s) => decodeStageState(readFileSync(join(run, 'checkpoint', s.file)), s.file));
}

/** Two runs' checkpoints hold the same state: weights, optimizer, synthesizer and feedback matrices per stage. */
export function assertSameStates(a: StageState[], b: StageState[]): void {
  assert.equal(a.length, b.length);
  for (let s = 0; s < a.length; s++) {
    assert.deepEqual(b[s].weights, a[s].weights, `stage ${s} weights`);
    assert.deepEqual(b[s].optimizer, a[s].optimizer, `stage ${s} optimizer`);
    assert.deepEqual(b[s].synthesizer, a[s].synthesizer, `stage ${s} synthesizer`);
    assert.deepEqual(b[s].feedback, a[s].feedback, `stage ${s} feedback matrices`);
  }
}

/** The ConfigError's message for `mnist-backprop` with these overrides (flags) and file fields, or '' when it resolves. */
export function configProblems(overrides: Record<string, unknown>, file?: Record<string, unknown>): string {
  try {
    resolveConfig({ preset: 'mnist-backprop', overrides, file });
    return '';
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
}
