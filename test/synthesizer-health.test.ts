import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveSequenceConfig, type SequenceConfig } from '../src/sequence/config.js';
import { readSequenceCheckpoint, runSequence } from '../src/sequence/run.js';
import { SATURATION, synthesizerHealth } from '../src/sequence/synthesizer-health.js';
import { decodeFloats, encodeFloats } from '../src/sequence/codec.js';
import { selectBackend } from '../src/runtime/backend.js';
import type { SavedTrainer } from '../src/sequence/trainer.js';
import { withTempDir } from './helpers/temp-dir.js';

const small = (over: Record<string, unknown>): SequenceConfig =>
  resolveSequenceConfig(undefined, { units: 8, batch: 4, maxSteps: 9, logEvery: 3, task: 'copy', mode: 'dni', copy: { bits: 2 }, ...over });

const script = fileURLToPath(new URL('../scripts/time-synthesizer-health.js', import.meta.url));

/** The same figures, computed here in plain arithmetic from the checkpoint's M and boundary input. */
function byHand(saved: SavedTrainer, batch: number): { inactive: number; saturated: number; mean: number; max: number } {
  const [kernel, bias] = saved.tensors.synthesizer.map((t, i) => decodeFloats(t, `synthesizer ${i}`));
  const s = decodeFloats(saved.tensors.boundary[0], 'boundary');
  const c = decodeFloats(saved.tensors.state[1], 'c');
  const inputs = s.length / batch;
  const units = bias.length;
  let inactive = 0;
  let saturated = 0;
  for (let j = 0; j < units; j++) {
    let active = false;
    for (let r = 0; r < batch; r++) {
      let z = bias[j];
      for (let i = 0; i < inputs; i++) z += s[r * inputs + i] * kernel[i * units + j];
      if (z > 0) active = true;
      if (Math.abs(z) > SATURATION) saturated++;
    }
    if (!active) inactive++;
  }
  const abs = Array.from(c, Math.abs);
  return { inactive, saturated: saturated / (units * batch), mean: abs.reduce((a, b) => a + b, 0) / abs.length, max: Math.max(...abs) };
}

describe("the time synthesizer's health at a checkpoint", () => {
  it('counts inactive units and saturated pre-activations on the boundary input, and sizes the cell state', async () => {
    await withTempDir('health', async (dir) => {
      const config = small({ synthesizer: { hiddenLayers: [8], activation: 'tanh' } });
      await runSequence(config, null, dir);
      const saved = readSequenceCheckpoint(dir).checkpoint.trainer as SavedTrainer;
      await selectBackend(config.backend);
      const h = synthesizerHealth(config, saved);
      const want = byHand(saved, 4);
      assert.equal(h.step, 9);
      assert.equal(h.activation, 'tanh');
      assert.equal(h.hidden.length, 1);
      assert.equal(h.hidden[0].units, 8);
      assert.equal(h.hidden[0].inactive, want.inactive);
      assert.ok(Math.abs(h.hidden[0].saturated - want.saturated) < 1e-6);
      assert.ok(Math.abs(h.cell.mean - want.mean) < 1e-6 && h.cell.max === want.max && h.cell.max > 0);

      // a first layer pushed far below zero: every unit inactive, every pre-activation saturated
      const [kernel, bias] = saved.tensors.synthesizer;
      const dead: SavedTrainer = { ...saved, tensors: { ...saved.tensors, synthesizer: [kernel, encodeFloats(decodeFloats(bias, 'bias').map(() => -100)), ...saved.tensors.synthesizer.slice(2)] } };
      assert.deepEqual(synthesizerHealth(config, dead).hidden, [{ units: 8, inactive: 8, saturated: 1 }]);

      const r = spawnSync(process.execPath, [script, '--run', dir], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`hidden layer 0 \\(tanh, 8 units\\): ${want.inactive} inactive for every stream`));
      assert.match(r.stdout, /cell state \|c\|: mean \d/);
    });
  });

  it('refuses a bptt run, a deep run and a checkpoint without a boundary', async () => {
    const config = small({});
    const saved: SavedTrainer = { step: 1, tensors: { boundary: [] }, task: null };
    assert.throws(() => synthesizerHealth({ ...config, mode: 'bptt' }, saved), /bptt run: it has no time synthesizer/);
    assert.throws(() => synthesizerHealth({ ...config, layers: 3 }, saved), /one-layer runs; this run has 3 layers/);
    assert.throws(() => synthesizerHealth(config, saved), /holds no boundary state/);
    await withTempDir('health-bptt', async (dir) => {
      await runSequence(small({ mode: 'bptt' }), null, dir);
      const r = spawnSync(process.execPath, [script, '--run', dir], { encoding: 'utf8', timeout: 120_000 });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /bptt run: it has no time synthesizer/);
    });
  });
});
