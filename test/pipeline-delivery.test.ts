/**
 * The pipeline over a transport that loses messages, with a scripted host (no workers, no
 * network): batches lost after an interruption are found by step number and abandoned at every
 * stage, evaluation batches whose results were lost are sent again (a few in flight at a time), a
 * gradient probe whose messages were lost is given up, and a stall fails the run naming the
 * stages it waits for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pipeline } from '../src/pipeline/pipeline.js';
import type { StageHost, StageHostEvents } from '../src/pipeline/stage-host.js';
import type { ControlMessage, ForwardMessage } from '../src/stage/protocol.js';
import type { StageSpec } from '../src/stage/stage-spec.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { smallConfig, trainingBatches } from './helpers/fixtures.js';

/** Three stages whose messages go nowhere until the test answers for them. */
class ScriptedHost implements StageHost {
  readonly delivery: { lossQuietMs: number; stallTimeoutMs: number };
  events!: StageHostEvents;
  readonly sent: ForwardMessage[] = [];
  readonly controls: { stage: number; message: ControlMessage }[] = [];

  constructor(delivery: Partial<{ lossQuietMs: number; stallTimeoutMs: number }> = {}) {
    this.delivery = { lossQuietMs: 60_000, stallTimeoutMs: 60_000, ...delivery };
  }

  async start(specs: StageSpec[], events: StageHostEvents): Promise<void> {
    this.events = events;
    for (const s of specs) events.report({ kind: 'ready', stage: s.index, backend: 'scripted', adapter: null, skipped: [], restoredStep: null });
  }
  send(message: ForwardMessage): void {
    this.sent.push(message);
  }
  control(stage: number, message: ControlMessage): void {
    this.controls.push({ stage, message });
  }
  finished(): Promise<never> {
    return new Promise(() => undefined);
  }
  replace(): number {
    return 0;
  }
  async destroy(): Promise<void> {}

  /** Every stage finishes `step` (the last one with its loss). */
  finish(step: number): void {
    for (let stage = 0; stage < 3; stage++) {
      this.events.report({ kind: 'done', stage, step, ...(stage === 2 && { loss: 1, correct: 1, rows: 4 }) });
    }
  }
}

const specs = (): StageSpec[] => stageSpecs(smallConfig({ mode: 'cdni' }), 4);

test('after an interruption, suspects older than a finished step are lost: abandoned at every stage and counted', async () => {
  const host = new ScriptedHost();
  const lost: number[][] = [];
  const pipeline = await Pipeline.start(specs(), { onLost: (steps) => lost.push(steps) }, host);
  try {
    trainingBatches(4, 4).forEach((b, step) => pipeline.feed(b, step));
    host.finish(0);
    host.events.interrupted!('the server restarted');
    assert.equal(pipeline.interruptions, 1);
    host.finish(3); // sent after 1 and 2 on the same links, finished first: 1 and 2 are gone
    assert.deepEqual(lost, [[1, 2]]);
    assert.equal(pipeline.lostInTransit, 2);
    assert.equal(pipeline.lostSteps, 2);
    assert.equal(pipeline.inFlight, 0);
    const abandons = host.controls.filter((c) => c.message.kind === 'abandon');
    assert.deepEqual(abandons.map((c) => c.stage), [0, 1, 2], 'every stage forgets them');
    assert.deepEqual(abandons[0].message, { kind: 'abandon', steps: [1, 2] });
    await pipeline.drain();
  } finally {
    await pipeline.destroy();
  }
});

test('without an interruption nothing is taken for lost, however the steps finish', async () => {
  const host = new ScriptedHost();
  const pipeline = await Pipeline.start(specs(), {}, host);
  try {
    trainingBatches(3, 4).forEach((b, step) => pipeline.feed(b, step));
    host.finish(2);
    assert.equal(pipeline.inFlight, 2);
    assert.equal(pipeline.lostInTransit, 0);
  } finally {
    await pipeline.destroy();
  }
});

test('evaluation batches whose results were lost are sent again after an interruption; a second answer is ignored', async () => {
  const host = new ScriptedHost();
  const pipeline = await Pipeline.start(specs(), {}, host);
  try {
    const result = pipeline.evaluate('test', trainingBatches(3, 4));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(host.sent.length, 3);
    const answer = (index: number, correct: number) => host.events.report({ kind: 'eval', stage: 2, tag: { split: 'test', index }, lossSum: 4, correct, rows: 4 });
    answer(0, 4);
    host.events.interrupted!('the server restarted');
    assert.deepEqual(host.sent.slice(3).map((m) => m.eval?.index), [1, 2], 'only the unanswered batches go again');
    assert.equal(pipeline.resent, 2);
    answer(0, 0); // the first answer to batch 0 counts
    answer(1, 4);
    answer(2, 4);
    assert.deepEqual(await result, { loss: 1, accuracy: 1 });
  } finally {
    await pipeline.destroy();
  }
});

test('evaluation keeps one batch per stage and one more in flight, making each batch only when it is sent', async () => {
  const host = new ScriptedHost();
  const pipeline = await Pipeline.start(specs(), {}, host);
  try {
    const batches = trainingBatches(10, 4);
    let made = 0;
    function* lazily() {
      for (const b of batches) {
        made += 1;
        yield b;
      }
    }
    const result = pipeline.evaluate('test', lazily());
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(host.sent.map((m) => m.eval?.index), [0, 1, 2, 3], '3 stages: 4 batches in flight');
    assert.equal(made, 4);
    const answer = (index: number) => host.events.report({ kind: 'eval', stage: 2, tag: { split: 'test', index }, lossSum: 4, correct: index % 2 === 0 ? 4 : 0, rows: 4 });
    answer(2);
    assert.deepEqual(host.sent.map((m) => m.eval?.index), [0, 1, 2, 3, 4], 'an answer lets the next one go');
    answer(2); // a second answer to the same batch frees nothing
    assert.equal(host.sent.length, 5);
    host.events.interrupted!('the server restarted');
    assert.deepEqual(host.sent.slice(5).map((m) => m.eval?.index), [0, 1, 3, 4], 'only the batches sent and unanswered go again');
    for (let index = 0; index < 10; index++) if (index !== 2) answer(index);
    assert.deepEqual(await result, { loss: 1, accuracy: 0.5 });
    assert.equal(made, 10);
    assert.deepEqual(host.sent.map((m) => m.eval?.index).filter((i) => i! >= 5), [5, 6, 7, 8, 9]);
  } finally {
    await pipeline.destroy();
  }
});

test('a stall (no report while the run waits) fails with the stages that did not finish the oldest step', async () => {
  const host = new ScriptedHost({ stallTimeoutMs: 300 });
  const pipeline = await Pipeline.start(specs(), {}, host);
  try {
    trainingBatches(2, 4).forEach((b, step) => pipeline.feed(b, step));
    host.events.report({ kind: 'done', stage: 0, step: 0 });
    await assert.rejects(pipeline.drain(), /no progress for 0\.3 s: waiting for step 0 to be finished from stage 1 \(last report \d+ s ago\), stage 2 \(last report \d+ s ago\)/);
  } finally {
    await pipeline.destroy();
  }
});

test('a gradient probe unanswered for lossQuietMs after an interruption is lost: every stage forgets it and probe() gives null', { timeout: 20_000 }, async () => {
  const host = new ScriptedHost({ lossQuietMs: 300 });
  const pipeline = await Pipeline.start(specs(), {}, host);
  try {
    const [batch] = trainingBatches(1, 4);
    const probed = pipeline.probe(batch);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(host.sent.at(-1)?.probe, true);
    host.events.report({ kind: 'probe', stage: 2, cosine: null });
    host.events.interrupted!('the server restarted');
    host.events.report({ kind: 'probe', stage: 1, cosine: 0.5 }); // a reply after the interruption: still waiting for stage 0
    assert.equal(await probed, null);
    const abandons = host.controls.filter((c) => c.message.kind === 'abandon');
    assert.deepEqual(abandons.map((c) => c.stage), [0, 1, 2], 'every stage forgets it');
    assert.deepEqual(abandons[0].message, { kind: 'abandon', steps: [], probe: true });
    assert.equal(pipeline.lostSteps, 0, 'a probe is no training step');
    // the next probe is answered as usual
    const next = pipeline.probe(trainingBatches(1, 4)[0]);
    await new Promise((resolve) => setImmediate(resolve));
    [0, 1, 2].forEach((stage) => host.events.report({ kind: 'probe', stage, cosine: stage === 2 ? null : 1 }));
    assert.deepEqual(await next, [1, 1, null]);
  } finally {
    await pipeline.destroy();
  }
});

test('a gradient probe is not given up without an interruption; a stall names the stages that did not answer it', async () => {
  const host = new ScriptedHost({ lossQuietMs: 100, stallTimeoutMs: 600 });
  const pipeline = await Pipeline.start(specs(), {}, host);
  try {
    const probed = pipeline.probe(trainingBatches(1, 4)[0]);
    await new Promise((resolve) => setImmediate(resolve));
    host.events.report({ kind: 'probe', stage: 2, cosine: null });
    await assert.rejects(probed, /no progress for 0\.6 s: waiting for the gradient probe from stage 0 \(last report \d+ s ago\), stage 1 \(last report \d+ s ago\)/);
    assert.equal(host.controls.filter((c) => c.message.kind === 'abandon').length, 0);
  } finally {
    await pipeline.destroy();
  }
});
