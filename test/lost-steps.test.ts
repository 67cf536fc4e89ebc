import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LostSteps } from '../src/pipeline/lost-steps.js';
import { Inbox } from '../src/loop/inbox.js';

test('LostSteps: a suspect is lost once a later step finished, or once nothing finished for quietMs', () => {
  const lost = new LostSteps(1_000);
  const inFlight = new Set([10, 11, 12, 13]);
  lost.interrupted(inFlight, 0);
  assert.equal(lost.pending, 4);
  // step 10 finishes: nothing older is in flight
  inFlight.delete(10);
  assert.deepEqual(lost.finished(10, inFlight, 100), []);
  // step 14 (fed after the interruption) finishes while 11 and 12 have not: they were lost
  inFlight.add(14);
  inFlight.delete(14);
  assert.deepEqual(lost.finished(14, inFlight, 200), [11, 12, 13]);
  assert.equal(lost.pending, 0);
});

test('LostSteps: silence after an interruption gives up on the suspects still in flight, and only on them', () => {
  const lost = new LostSteps(1_000);
  const inFlight = new Set([3, 4]);
  lost.interrupted(inFlight, 5_000);
  inFlight.add(5); // fed after the interruption: not a suspect
  assert.deepEqual(lost.overdue(inFlight, 5_900), [], 'not quiet long enough');
  inFlight.delete(3);
  assert.deepEqual(lost.finished(3, inFlight, 5_950), []);
  assert.deepEqual(lost.overdue(inFlight, 6_900), [], 'the clock restarts with each finished step');
  assert.deepEqual(lost.overdue(inFlight, 6_960), [4]);
  assert.deepEqual(lost.overdue(inFlight, 9_000), [], 'step 5 is no suspect');
});

test('LostSteps: suspects abandoned for another reason (a restart) are forgotten', () => {
  const lost = new LostSteps(10);
  const inFlight = new Set([1, 2]);
  lost.interrupted(inFlight, 0);
  inFlight.clear();
  assert.deepEqual(lost.overdue(inFlight, 100), []);
  assert.equal(lost.pending, 0);
});

test('Inbox.discard drops the queued messages of abandoned steps and their stragglers, never evaluation batches', () => {
  const inbox = new Inbox();
  const batch = (step: number, evalIndex?: number) => ({
    kind: 'forward' as const, step, rows: 0, activations: new Float32Array(0), labels: new Uint8Array(0),
    ...(evalIndex !== undefined && { eval: { split: 'test' as const, index: evalIndex } }),
  });
  inbox.pushForward(batch(1));
  inbox.pushForward(batch(2));
  inbox.pushBackward({ kind: 'backward', step: 1, gradient: null, synthetic: true });
  inbox.discard(new Set([1]));
  assert.deepEqual(inbox.forward.map((m) => m.step), [2]);
  assert.equal(inbox.backward.length, 0);
  inbox.pushForward(batch(1)); // arrives late
  inbox.pushBackward({ kind: 'backward', step: 1, gradient: null, synthetic: true });
  inbox.pushForward(batch(-1, 0));
  assert.deepEqual(inbox.forward.map((m) => m.step), [2, -1]);
  assert.equal(inbox.backward.length, 0);
});

test('Inbox.discardProbe drops the queued messages of a lost gradient probe, not a flush marker (also step -1); the next probe is queued', () => {
  const inbox = new Inbox();
  const forward = (over: { marker?: true; probe?: true }) => ({ kind: 'forward' as const, step: -1, rows: 0, activations: new Float32Array(0), labels: new Uint8Array(0), ...over });
  const down = { kind: 'backward' as const, step: -1, gradient: new Float32Array(0), synthetic: false, probe: true as const, used: new Float32Array(0), error: new Float32Array(0) };
  inbox.pushForward(forward({ marker: true }));
  inbox.pushForward(forward({ probe: true }));
  inbox.pushBackward(down);
  inbox.discardProbe();
  assert.deepEqual(inbox.forward.map((m) => m.marker), [true]);
  assert.equal(inbox.backward.length, 0);
  inbox.pushForward(forward({ probe: true }));
  inbox.pushBackward(down);
  assert.deepEqual(inbox.forward.map((m) => m.probe), [undefined, true]);
  assert.equal(inbox.backward.length, 1);
});
