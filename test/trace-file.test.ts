import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TraceFile } from '../src/metrics/trace-file.js';
import { threadNames, type TraceEvent } from '../src/metrics/trace.js';
import { train } from '../src/train.js';
import type { Dataset } from '../src/data/index.js';
import { easySplit, smallConfig } from './helpers/fixtures.js';
import { withTempDir } from './helpers/temp-dir.js';

const span = (tid: number, ts: number, name = 'forward'): TraceEvent => ({ name, cat: name, ph: 'X', pid: 1, tid, ts, dur: 3, args: { step: ts } });

test('TraceFile: spans appended in batches, then one trace.json with the head first; the partial file goes', () =>
  withTempDir('synthgrad-trace', (dir) => {
    const path = join(dir, 'trace.json');
    writeFileSync(`${path}.partial`, ',{"left":"by a killed run"}\n'); // started again
    const file = new TraceFile(path);
    file.append([span(1, 10), span(2, 11)]);
    file.append([]);
    assert.equal(existsSync(path), false, 'no trace.json before the end');
    assert.equal(readFileSync(`${path}.partial`, 'utf8').trim().split('\n').length, 2);
    file.append([span(1, 12, 'send')]);
    const head = threadNames({ 0: 'orchestrator', 1: 'stage 0' });
    file.finish(head, { runId: 'r', droppedSpans: 4 });
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {
      traceEvents: [...head, span(1, 10), span(2, 11), span(1, 12, 'send')],
      displayTimeUnit: 'ms',
      otherData: { runId: 'r', droppedSpans: 4 },
    });
    assert.equal(existsSync(`${path}.partial`), false);
    // once: later spans and a second finish change nothing
    file.append([span(1, 13)]);
    file.finish([], { runId: 'other' });
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).traceEvents.length, 5);
  }));

test('TraceFile: valid JSON without a head, and without spans', () =>
  withTempDir('synthgrad-trace', (dir) => {
    const a = new TraceFile(join(dir, 'a.json'));
    a.append([span(1, 1), span(1, 2)]);
    a.finish([], {});
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8')).traceEvents, [span(1, 1), span(1, 2)]);
    const b = new TraceFile(join(dir, 'b.json'));
    b.finish(threadNames({ 0: 'orchestrator' }), {});
    assert.equal(JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8')).traceEvents.length, 1);
    a.finish([], {});
  }));

test('a run writes its spans to disk as the stages hand them over and the orchestrator records its own, not at the end', () =>
  withTempDir('synthgrad-trace', async (dir) => {
    const out = join(dir, 'run');
    const data: Dataset = { train: easySplit(224, 1), validation: easySplit(64, 2), test: easySplit(64, 3) };
    const forwardSteps = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.includes('"forward"') && l.includes('"tid":1,'))
        .map((l) => JSON.parse(l.replace(/^,/, '').replace(/,$/, '')).args.step as number);
    const evaluations = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.includes('"evaluate"') && l.includes('"tid":0,'))
        .map((l) => JSON.parse(l.replace(/^,/, '').replace(/,$/, '')).args.epoch as number);
    let atFirstEpoch: number[] | null = null;
    let evaluatedAtFirstEpoch: number[] | null = null;
    const summary = await train({ ...smallConfig({ train: { epochs: 2, schedule: 'lockstep' } }), out }, {
      data,
      onEpoch: (record) => {
        if (record.epoch !== 1) return;
        assert.equal(existsSync(join(out, 'trace.json')), false);
        const partial = readFileSync(join(out, 'trace.json.partial'), 'utf8');
        atFirstEpoch = forwardSteps(partial);
        evaluatedAtFirstEpoch = evaluations(partial);
      },
    });
    assert.equal(summary.steps, 14);
    // stage 0's forward spans of epoch 1 (steps 0-6) were on disk when it ended
    assert.deepEqual(atFirstEpoch, [0, 1, 2, 3, 4, 5, 6]);
    // and so was the orchestrator's span of epoch 1's evaluation
    assert.deepEqual(evaluatedAtFirstEpoch, [1]);
    assert.equal(existsSync(join(out, 'trace.json.partial')), false);
    const trace = JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8')) as { traceEvents: TraceEvent[]; otherData: { droppedSpans: number } };
    const forward = trace.traceEvents.filter((e) => e.tid === 1 && e.name === 'forward').map((e) => e.args!.step);
    assert.deepEqual(forward, Array.from({ length: 14 }, (_, i) => i));
    assert.deepEqual(trace.traceEvents.filter((e) => e.ph === 'M').map((e) => (e.args as { name: string }).name), ['orchestrator', 'stage 0', 'stage 1', 'stage 2']);
    assert.equal(trace.otherData.droppedSpans, 0);
  }));
