import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { PortLinks } from '../src/transport/threads/port-links.js';
import { Inbox } from '../src/loop/inbox.js';
import type { BackwardMessage, ForwardMessage } from '../src/stage/protocol.js';

const forward = (step: number): ForwardMessage => ({ kind: 'forward', step, rows: 2, activations: new Float32Array([step, step]), labels: new Uint8Array([1, 2]) });
const backward = (step: number): BackwardMessage => ({ kind: 'backward', step, gradient: new Float32Array([-step]), synthetic: true });

test('PortLinks.drain takes every waiting message into the inbox at once, in order, without an event-loop turn; the listeners see none of them twice', async () => {
  const up = new MessageChannel();
  const down = new MessageChannel();
  const control = new MessageChannel();
  const links = new PortLinks({ forwardIn: up.port2, backwardIn: down.port2, control: control.port2 });
  const inbox = new Inbox();
  links.listen(inbox);
  try {
    for (const step of [0, 1, 2]) {
      const m = forward(step);
      up.port1.postMessage(m, [m.activations.buffer as ArrayBuffer]);
    }
    down.port1.postMessage(backward(0));
    // posted, not yet delivered: the listeners run only in a later event-loop turn
    assert.equal(inbox.forward.length, 0);
    assert.equal(links.drain(inbox), 4);
    assert.deepEqual(inbox.forward.map((m) => m.step), [0, 1, 2]);
    assert.deepEqual([...inbox.forward[2].activations], [2, 2], 'the transferred buffer arrives whole');
    assert.deepEqual(inbox.backward.map((m) => m.step), [0]);
    assert.equal(links.drain(inbox), 0, 'nothing left');

    // what arrives after a drain still reaches the inbox through the listeners, once
    up.port1.postMessage(forward(3));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(inbox.forward.map((m) => m.step), [0, 1, 2, 3]);
    assert.equal(links.drain(inbox), 0);
  } finally {
    links.close();
    for (const c of [up, down, control]) c.port1.close();
  }
});

test('PortLinks.drain follows a rewire to the new ports', () => {
  const first = new MessageChannel();
  const second = new MessageChannel();
  const control = new MessageChannel();
  const links = new PortLinks({ forwardIn: first.port2, control: control.port2 });
  const inbox = new Inbox();
  links.listen(inbox);
  try {
    links.rewire({ forwardIn: second.port2 });
    second.port1.postMessage(forward(7));
    assert.equal(links.drain(inbox), 1);
    assert.deepEqual(inbox.forward.map((m) => m.step), [7]);
  } finally {
    links.close();
    for (const c of [first, second, control]) c.port1.close();
  }
});
