import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextAction, PIPELINE_LAG, type StageView } from '../src/loop/schedule.js';

const view = (over: Partial<StageView>): StageView => ({
  mode: 'dni',
  schedule: 'async',
  awaitingTargets: 0,
  oldestFlushed: false,
  awaitingGradient: false,
  forwardQueued: 0,
  backwardQueued: 0,
  inputQueued: 0,
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

test('pipelined: a target is applied exactly PIPELINE_LAG batches later, waiting for it if need be', () => {
  const p = (over: Partial<StageView>) => view({ schedule: 'pipelined', ...over });
  // not yet due: the next batch goes first even though a target is queued
  assert.equal(nextAction(p({ awaitingTargets: PIPELINE_LAG, forwardQueued: 1, backwardQueued: 1 })), 'forward');
  // due: take it, or wait for it while batches queue up
  assert.equal(nextAction(p({ awaitingTargets: PIPELINE_LAG + 1, forwardQueued: 1, backwardQueued: 1 })), 'backward');
  assert.equal(nextAction(p({ awaitingTargets: PIPELINE_LAG + 1, forwardQueued: 3 })), 'wait');
});

test('pipelined: after a flush marker every outstanding target is due, and a stop waits for them', () => {
  const p = (over: Partial<StageView>) => view({ schedule: 'pipelined', ...over });
  assert.equal(nextAction(p({ awaitingTargets: 1, oldestFlushed: true })), 'wait');
  assert.equal(nextAction(p({ awaitingTargets: 1, oldestFlushed: true, backwardQueued: 1 })), 'backward');
  assert.equal(nextAction(p({ awaitingTargets: 1, stopRequested: true })), 'wait');
  assert.equal(nextAction(p({ stopRequested: true })), 'stop');
  // backprop stays update-locked whatever the schedule
  assert.equal(nextAction(p({ mode: 'backprop', awaitingGradient: true, forwardQueued: 1 })), 'wait');
});

test('complete unlock: targets, then real inputs from below, then the next data batch; never waits on the stages below', () => {
  assert.equal(nextAction(view({ inputQueued: 1, forwardQueued: 1, backwardQueued: 1 })), 'backward');
  assert.equal(nextAction(view({ inputQueued: 1, forwardQueued: 1 })), 'forward');
  assert.equal(nextAction(view({ inputQueued: 2 })), 'input');
  // a stop waits for queued data batches
  assert.equal(nextAction(view({ inputQueued: 1, stopRequested: true })), 'input');
});
