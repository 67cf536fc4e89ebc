import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signalExitCode } from '../src/run/signal-exit.js';

test('a run ended by a signal exits as the shell reports it: 128 + the signal number', () => {
  assert.equal(signalExitCode('SIGINT'), 130);
  assert.equal(signalExitCode('SIGTERM'), 143);
  assert.equal(signalExitCode('SIGHUP'), 129);
});
