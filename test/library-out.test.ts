import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { train, presets } from '../src/index.js';
import { pino } from 'pino';
import { data } from './helpers/fixtures.js';
import { withTempDir } from './helpers/temp-dir.js';

test('library use: the out option places the run, nothing is written in the working directory, and the log names the folder', () =>
  withTempDir('synthgrad-library', async (dir) => {
    const cwd = join(dir, 'cwd');
    const out = join(dir, 'my-run');
    const messages: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => messages.push(line) });
    const previous = process.cwd();
    mkdirSync(cwd);
    process.chdir(cwd);
    try {
      const preset = presets['mnist-backprop'];
      const summary = await train({ ...preset, train: { ...preset.train, schedule: 'lockstep', batchSize: 32, maxSteps: 3 } }, { data: data(), out, logger });
      assert.equal(summary.outDir, out);
      assert.equal(summary.preset, null, 'a config spread from a preset object is a custom config');
      assert.ok(existsSync(join(out, 'summary.json')));
      assert.deepEqual(readdirSync(cwd), [], 'nothing written into the working directory');
      assert.ok(messages.some((m) => m.includes(`writing the run to ${out}`)), messages.join(''));
    } finally {
      process.chdir(previous);
    }
  }));
