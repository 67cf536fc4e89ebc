/**
 * Per-stage modes (config.stageModes, --stage-modes): each stage takes its own mode; DNI at one
 * interface with backprop above it trains exactly as the grouping that puts the interface there;
 * what cannot be per stage is refused with the field named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/train.js';
import { resolveConfig } from '../src/config/resolve.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import { checkpointStates, configProblems } from './helpers/run-files.js';
import { data, smallConfig } from './helpers/fixtures.js';


test('stageModes: each stage gets its own mode; the flag gives the list; what cannot be per stage is refused', () => {
  const config = resolveConfig({ preset: 'mnist-backprop', overrides: { mode: 'cdni', stageModes: ['cdni', 'backprop', 'fa', 'backprop'] } });
  assert.deepEqual(stageSpecs(config, 1).map((s) => s.mode), ['cdni', 'backprop', 'fa', 'backprop']);
  assert.deepEqual(stageSpecs(resolveConfig({ preset: 'mnist-backprop' }), 1).map((s) => s.mode), ['backprop', 'backprop', 'backprop', 'backprop']);
  const problems = configProblems;
  assert.match(problems({ stageModes: ['cdni', 'backprop'] }), /stageModes: one mode per stage: 4 stages, 2 modes given/);
  assert.match(problems({ mode: 'dfa', stageModes: ['cdni', 'backprop', 'cdni', 'backprop'] }), /stageModes: mode dfa sets what every stage sends, so it is per run/);
  assert.match(problems({ stageModes: ['cdni', 'kickback', 'cdni', 'backprop'] }), /stageModes\[1\]: Invalid option: expected one of "backprop"\|"dni"\|"cdni"\|"fa"\|"bp-lambda"/);
  assert.match(problems({ stageModes: ['bp-lambda', 'backprop', 'backprop', 'backprop'] }), /lambda: mode bp-lambda needs its λ schedule/);
  assert.match(problems({ mode: 'cdni', stageModes: ['cdni', 'backprop', 'cdni', 'cdni'], train: { updateProbability: 0.5 } }), /train\.updateProbability: backprop updates every batch/);
  assert.equal(problems({ mode: 'cdni', stageModes: ['cdni', 'backprop', 'cdni', 'cdni'] }), '');
});

test('DNI at the first interface only (stageModes dni, backprop, backprop) trains exactly as mode dni with the layers above in one stage', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-stage-modes-'));
  try {
    const base = smallConfig({ mode: 'dni', synthesizer: { hiddenLayers: [16], batchNorm: true }, train: { schedule: 'lockstep', maxSteps: 20 } });
    const perStage = await train({ ...base, stageModes: ['dni', 'backprop', 'backprop'], out: join(root, 'per-stage') }, { data: data() });
    const grouped = await train({ ...base, stages: [[0], [1, 2]], out: join(root, 'grouped') }, { data: data() });
    const mixed = checkpointStates(join(root, 'per-stage'));
    const [stage0] = checkpointStates(join(root, 'grouped'));
    // stage 0 learns from its synthesizer, which learns from the targets coming from above: equal only if everything above is
    assert.deepEqual(mixed[0].weights, stage0.weights);
    assert.deepEqual(mixed[0].synthesizer, stage0.synthesizer);
    assert.equal(perStage.testAccuracy, grouped.testAccuracy);
    assert.equal(perStage.steps, 20);
    assert.equal(mixed[1].synthesizer, null, 'the backprop stage has no synthesizer');
    // and it is not plain backprop
    const backprop = await train({ ...base, mode: 'backprop', out: join(root, 'backprop') }, { data: data() });
    assert.notDeepEqual(checkpointStates(join(root, 'backprop'))[0].weights, mixed[0].weights);
    assert.ok(backprop.steps === 20);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
