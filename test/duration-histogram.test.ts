import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DurationHistogram } from '../src/metrics/duration-histogram.js';

test('duration histogram: count, median to 1 µs, nothing above the limit', () => {
  const h = new DurationHistogram(1);
  assert.equal(h.median(), null);
  for (const ms of [0.030, 0.031, 0.0305, 0.9, 7, 0.0304, 0.0302]) h.add(ms);
  assert.equal(h.count, 7);
  assert.ok(Math.abs(h.median()! - 0.0305) < 1e-9, String(h.median()));
  for (let i = 0; i < 10; i++) h.add(50);
  assert.equal(h.median(), null, 'a median above the limit is not known');
  h.add(-1); // clamped to the first bucket, still counted
  assert.equal(h.count, 18);
});
