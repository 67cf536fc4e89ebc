import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { proposeGrouping } from '../src/pipeline/grouping.js';

test('one stage per layer when there are as many stages as layers', () => {
  const p = proposeGrouping({ layer: [3, 1, 1, 1], interface: [1, 1, 1, 0] }, 4, 2);
  assert.deepEqual(p.groups, [[0], [1], [2], [3]]);
  assert.deepEqual(p.stageCosts, [4, 2, 2, 1]);
  assert.equal(p.bound, 2); // min(cores 2, 9 / 4)
});

test('two stages: the heavy first layer alone, the rest together', () => {
  // stage costs: [0] 4 + [1..3] 3 beats [0,1] 5 + [2,3] 2
  const p = proposeGrouping({ layer: [3, 1, 1, 1], interface: [1, 1, 1, 0] }, 2, 2);
  assert.deepEqual(p.groups, [[0], [1, 2, 3]]);
  assert.deepEqual(p.stageCosts, [4, 3]);
  assert.equal(p.bound, 7 / 4);
});

test('a synthesizer is paid only at a stage boundary', () => {
  // expensive interfaces after layers 0 and 1 push both into one stage with layer 2
  const p = proposeGrouping({ layer: [1, 1, 1, 1], interface: [10, 10, 0.5, 0] }, 2, 8);
  assert.deepEqual(p.groups, [[0, 1, 2], [3]]);
  assert.deepEqual(p.stageCosts, [3.5, 1]);
});

test('the proposal is optimal: no contiguous grouping has a cheaper busiest stage', () => {
  const costs = { layer: [5, 2, 7, 1, 3, 4], interface: [1, 2, 1, 3, 1, 0] };
  for (let stages = 1; stages <= 6; stages++) {
    const best = Math.max(...proposeGrouping(costs, stages, 4).stageCosts);
    // every way of cutting 6 layers into `stages` stages
    const cuts = (from: number, left: number): number[][] =>
      left === 1 ? [[]] : Array.from({ length: 6 - from - left + 1 }, (_, d) => from + 1 + d).flatMap((c) => cuts(c, left - 1).map((rest) => [c, ...rest]));
    for (const cut of cuts(0, stages)) {
      const bounds = [0, ...cut, 6];
      const worst = Math.max(...bounds.slice(1).map((end, k) => costs.layer.slice(bounds[k], end).reduce((a, b) => a + b) + costs.interface[end - 1]));
      assert.ok(best <= worst + 1e-12, `${stages} stages: proposal ${best}, cut ${cut} gives ${worst}`);
    }
  }
});

test('impossible stage counts are refused', () => {
  assert.throws(() => proposeGrouping({ layer: [1, 1], interface: [0, 0] }, 3, 2), /from 1 to the number of layers \(2\)/);
  assert.throws(() => proposeGrouping({ layer: [1, 1], interface: [0, 0] }, 0, 2), /got 0/);
});

test('measured layer costs: one per layer, no synthesizer after the last layer, a grouping the config accepts', async () => {
  const { smallConfig } = await import('./helpers/fixtures.js');
  const { measureLayerCosts } = await import('../src/lab/bench/layer-costs.js');
  const { validateConfig } = await import('../src/config/resolve.js');
  const config = smallConfig({ mode: 'cdni' });
  const costs = await measureLayerCosts(config, 3, 1);
  assert.equal(costs.layer.length, 3);
  assert.ok(costs.layer.every((c) => c >= 0) && costs.stageMs.every((c) => c > 0), JSON.stringify(costs));
  assert.ok(costs.interface[0] > 0 && costs.interface[1] > 0, 'stages below the top have synthesizers');
  assert.equal(costs.interface[2], 0);
  const { groups } = proposeGrouping(costs, 2, 2);
  assert.equal(groups.length, 2);
  assert.deepEqual(validateConfig({ ...config, stages: groups }).stages, groups);
});

test('synthgrad group prints a grouping, and --stages on train takes it', () => {
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [cli, 'group', '--preset', 'mnist-cdni', '--stages', '2', '--steps', '2', '--batch-size', '16'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const match = /proposed grouping into 2 stages: (\[.*\])/.exec(r.stdout);
  assert.ok(match, r.stdout);
  const groups = JSON.parse(match[1]) as number[][];
  assert.deepEqual(groups.flat(), [0, 1, 2, 3]);
  const bad = spawnSync(process.execPath, [cli, 'train', '--stages', '[[0],[2],[1,3]]', '--max-steps', '1'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /stages must list the layer indices 0\.\.3 once each/);
  const tooMany = spawnSync(process.execPath, [cli, 'group', '--stages', '9', '--steps', '1'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(tooMany.status, 2);
  assert.match(tooMany.stderr, /cannot make 9 stages of a model with 4 layers/);
});
