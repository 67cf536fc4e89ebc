/** Czarnecki et al.'s toy experiments (src/lab/toy/czarnecki.ts): where backprop and synthetic gradients end. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toyRows, toyMarkdown, trainToy } from '../src/lab/toy/czarnecki.js';

test('MSE: a linear and a deep linear model trained by a linear synthetic gradient reach the solution backprop reaches', () => {
  const rows = toyRows('1', [
    { loss: 'mse', depth: 1, steps: 2000, methods: ['backprop', 'sg-linear'] },
    { loss: 'mse', depth: 3, steps: 2000, methods: ['backprop', 'sg-linear'] },
  ]);
  for (const depth of [1, 3]) {
    const [bp, sg] = rows.filter((r) => r.depth === depth);
    assert.ok(sg.distance < 2e-3, `depth ${depth}: distance ${sg.distance}`);
    assert.ok(Math.abs(sg.finalLoss - bp.finalLoss) < 1e-4 * bp.finalLoss + 1e-6, `depth ${depth}: ${sg.finalLoss} against ${bp.finalLoss}`);
  }
  // and it keeps closing in: more steps, closer
  const longer = toyRows('1', [{ loss: 'mse', depth: 1, steps: 4000, methods: ['backprop', 'sg-linear'] }])[1];
  assert.ok(longer.distance < rows[1].distance / 1.3, `${longer.distance} against ${rows[1].distance}`);
});

test('log loss: a linear synthetic gradient stops elsewhere (a higher loss); through a sigmoid it reaches backprop\'s solution', () => {
  const [bp, linear, sigmoid] = toyRows('1', [{ loss: 'log', depth: 1, steps: 6000, methods: ['backprop', 'sg-linear', 'sg-sigmoid'] }]);
  assert.ok(linear.distance > 0.03, `linear: ${linear.distance}`);
  assert.ok(linear.finalLoss > bp.finalLoss + 5e-4, `linear: ${linear.finalLoss} against ${bp.finalLoss}`);
  assert.ok(sigmoid.distance < 1e-3, `sigmoid: ${sigmoid.distance}`);
  assert.ok(Math.abs(sigmoid.finalLoss - bp.finalLoss) < 1e-5, `sigmoid: ${sigmoid.finalLoss} against ${bp.finalLoss}`);
  // where the linear one stops does not move with more steps: a fixed point, not slowness
  const later = trainToy({ loss: 'log', depth: 1, steps: 9000, method: 'sg-linear' });
  assert.ok(Math.abs(later.loss - linear.finalLoss) < 1e-6, `${later.loss} against ${linear.finalLoss}`);
  assert.match(toyMarkdown([bp, linear, sigmoid], 'cmd'), /\| log loss \| linear \| SG, linear M \| 6000 \|/);
});
