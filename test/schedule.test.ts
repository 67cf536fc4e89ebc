import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextAction, type StageView } from '../src/pipeline/schedule.js';

const view = (over: Partial<StageView>): StageView => ({
  mode: 'dni',
  awaitingGradient: false,
  forwardQueued: 0,
  backwardQueued: 0,
  stopRequested: false,
  ...over,
});

test('an idle stage waits, and stops only when asked', () => {
  assert.equal(nextAction(view({})), 'wait');
  assert.equal(nextAction(view({ stopRequested: true })), 'stop');
});

test('dni applies queued targets before taking the next batch', () => {
  assert.equal(nextAction(view({ forwardQueued: 2, backwardQueued: 1 })), 'backward');
  assert.equal(nextAction(view({ forwardQueued: 2 })), 'forward');
});

test('dni never waits on the stage above while batches are queued', () => {
  for (const mode of ['dni', 'cdni'] as const) {
    assert.equal(nextAction(view({ mode, forwardQueued: 1, awaitingGradient: true })), 'forward');
  }
});

test('backprop is update-locked: no new batch until the true gradient arrived', () => {
  assert.equal(nextAction(view({ mode: 'backprop', awaitingGradient: true, forwardQueued: 3 })), 'wait');
  assert.equal(nextAction(view({ mode: 'backprop', awaitingGradient: true, forwardQueued: 3, backwardQueued: 1 })), 'backward');
  assert.equal(nextAction(view({ mode: 'backprop', forwardQueued: 3 })), 'forward');
});

test('queued work is finished before a stop', () => {
  assert.equal(nextAction(view({ stopRequested: true, forwardQueued: 1 })), 'forward');
  assert.equal(nextAction(view({ stopRequested: true, backwardQueued: 1 })), 'backward');
});
