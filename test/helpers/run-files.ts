import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
