import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.js';

/** The message of the ConfigError that `fn` throws (fails the test if it throws nothing or something else). */
export function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail('expected an error');
}
