import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
// the bootstrapped target is checked against tfjs's autodiff (the full package registers the gradients)
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { CopyTask } from '../src/sequence/copy.js';
import { CharLmTask } from '../src/sequence/char-lm.js';
import { indexCorpus } from '../src/sequence/corpus.js';
import { SequenceTrainer, type SequenceMode, type SequenceTrainerOptions } from '../src/sequence/trainer.js';
import { TimeSynthesizer } from '../src/sequence/time-synthesizer.js';
import type { SequenceTask, Window } from '../src/sequence/task.js';
import { stream } from '../src/stage/rng.js';
import type { Dense } from '../src/model/index.js';

const optionsAt = (mode: SequenceMode, window = 3, gradientAt: SequenceTrainerOptions['gradientAt'] = 'state'): SequenceTrainerOptions => ({
  mode,
  window,
  gradientAt,
  units: 6,
  learningRate: 0.01,
  synthesizerLayers: [],
  synthesizerLearningRate: 0.01,
  discount: 1,
  seed: 3,
});

const options = (mode: SequenceMode, window = 3) => optionsAt(mode, window);

const copyTask = (batch: number) => new CopyTask({ variant: 'repeat-copy', batch, bits: 3, maxRepeats: 2, curriculum: { threshold: 0.15, window: 8, start: 2 }, seed: 4 });

const values = (ts: tf.Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

/** A fixed list of windows (inputs of 2 units, 2 output bits, every step scored), for hand-made cases. */
class FixedTask implements SequenceTask {
  readonly name = 'fixed';
  readonly inputUnits = 2;
  readonly outputUnits = 2;
  readonly output = 'bits' as const;
  readonly windows: Window[] = [];
  private at = 0;
  constructor(batch: number, steps: number, count: number) {
    const rng = stream(11, 'test', 'fixed');
    for (let k = 0; k < count; k++) {
      const rows = steps * batch;
      this.windows.push({
        steps,
        batch,
        x: Float32Array.from({ length: rows * 2 }, () => 2 * rng() - 1),
        y: Float32Array.from({ length: rows * 2 }, () => (rng() < 0.5 ? 0 : 1)),
        mask: new Float32Array(rows).fill(1),
        carry: null,
      });
    }
  }
  next(): Window {
    return this.windows[this.at++];
  }
  observe(): void {}
  figures(): Record<string, number> {
    return {};
  }
  getState(): unknown {
    return this.at;
  }
  setState(state: unknown): void {
    this.at = state as number;
  }
}

describe('truncated BPTT with a synthetic gradient at the window boundary', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });
  after(() => tf.disposeVariables());

  for (const [mode, conditioned] of [
    ['dni', false],
    ['dni+aux', false],
    ['dni', true],
  ] as const) {
    it(`a zero-initialised time synthesizer changes nothing at step one (${mode}${conditioned ? ', conditioned' : ''} = bptt)`, async () => {
      const cut = new SequenceTrainer(copyTask(3), 3, options('bptt'));
      const dni = new SequenceTrainer(copyTask(3), 3, { ...options(mode), conditioned });
      assert.equal(dni.trainWindow().loss, cut.trainWindow().loss);
      assert.deepEqual(values([...dni.lstm.params, ...dni.readout.params]), values([...cut.lstm.params, ...cut.readout.params]));
      // and the synthesizer did predict zero: its output layer starts at zero
      const s = tf.ones([3, 12 + (conditioned ? 3 * (4 + 1) : 0)]) as tf.Tensor2D;
      assert.ok(dni.synthesizer!.predict(s).gradient.dataSync().every((v) => v === 0));
      cut.dispose();
      dni.dispose();
    });
  }

  for (const mode of ['dni', 'dni+aux'] as const) {
    it(`the bootstrapped target is the true gradient from the next window plus its ĝ pushed back through it (${mode}, two windows by hand)`, async () => {
      const [batch, T, units] = [2, 2, 6];
      const task = new FixedTask(batch, T, 2);
      const trainer = new SequenceTrainer(task, batch, options(mode, T));
      const m = trainer.synthesizer!;
      // a non-zero M, so that ĝ is not zero
      const rng = stream(12, 'test', 'synthesizer');
      m.net.setWeights((await m.net.getWeights()).map((w) => Float32Array.from(w, () => 0.3 * (2 * rng() - 1))));
      trainer.trainWindow();
      // what window 2 starts from: the weights after step one, the state s_1, M before its next step
      const [wx, wh, b] = trainer.lstm.params.map((p) => tf.clone(p));
      const [wo, bo] = trainer.readout.params.map((p) => tf.clone(p));
      const [mW, mB] = m.net.params.map((p) => tf.clone(p));
      const saved = await trainer.exportState();
      const s1 = tf.tensor2d(decode(saved.tensors.state[0]), [batch, units]);
      const c1 = tf.tensor2d(decode(saved.tensors.state[1]), [batch, units]);
      const seen: { target: number[]; aux: number[] | null; state: number[] }[] = [];
      const train = m.train.bind(m);
      m.train = (state, target, auxTarget, used) => {
        seen.push({ target: Array.from(target.dataSync()), aux: auxTarget ? Array.from(auxTarget.dataSync()) : null, state: Array.from(state.dataSync()) });
        return train(state, target, auxTarget, used);
      };
      trainer.trainWindow();
      assert.equal(seen.length, 1, 'M trains once, at window 2, on the boundary between the two windows');
      assert.deepEqual(seen[0].state, [...concatRows(s1, c1)]);

      // by hand: unroll window 2 from (h, c) = s_1, loss L_2 + <ĝ_2/B, s_2> with ĝ_2 = M(s_2) held constant
      const w = task.windows[1];
      const x = tf.tensor2d(w.x, [T * batch, 2]);
      const y = tf.tensor2d(w.y, [T * batch, 2]);
      const unroll = (h0: tf.Tensor2D, c0: tf.Tensor2D) => {
        let [h, c] = [h0, c0];
        const hs: tf.Tensor2D[] = [];
        for (let t = 0; t < T; t++) {
          const z = tf.add(tf.add(tf.matMul(tf.slice(x, [t * batch, 0], [batch, 2]), wx as tf.Tensor2D), tf.matMul(h, wh as tf.Tensor2D)), b);
          const [zi, zf, zo, zg] = tf.split(z, 4, 1);
          c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zg)));
          h = tf.mul(tf.sigmoid(zo), tf.tanh(c));
          hs.push(h);
        }
        return { hs: tf.concat(hs, 0) as tf.Tensor2D, s: tf.concat([h, c], 1) as tf.Tensor2D };
      };
      const s2 = unroll(s1, c1).s;
      const mOut = tf.add(tf.matMul(s2, mW as tf.Tensor2D), mB);
      const gHat = tf.slice(mOut, [0, 0], [batch, 2 * units]); // per-example ĝ_2
      const [dh, dc] = tf.grads((h0: tf.Tensor, c0: tf.Tensor) => {
        const { hs, s } = unroll(h0 as tf.Tensor2D, c0 as tf.Tensor2D);
        const logits = tf.add(tf.matMul(hs, wo as tf.Tensor2D), bo);
        const bce = tf.sum(tf.sub(tf.add(tf.relu(logits), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))), tf.mul(y, logits)));
        return tf.add(tf.div(bce, batch), tf.sum(tf.mul(s, tf.div(gHat, batch)))) as tf.Scalar;
      })([s1, c1]);
      const expected = Array.from(tf.mul(tf.concat([dh, dc], 1), batch).dataSync());
      closeTo(seen[0].target, expected, 'bootstrapped target');
      if (mode === 'dni+aux') closeTo(seen[0].aux!, Array.from(gHat.dataSync()), 'auxiliary target: the ĝ of the next boundary');
      else assert.equal(seen[0].aux, null);
      trainer.dispose();
    });
  }

  it("M's hidden layers take the activation asked for (relu by default)", () => {
    for (const activation of [undefined, 'leaky-relu', 'tanh'] as const) {
      const trainer = new SequenceTrainer(new FixedTask(2, 2, 1), 2, { ...options('dni', 2), synthesizerLayers: [4, 3], synthesizerActivation: activation });
      assert.deepEqual(trainer.synthesizer!.net.layers.map((l) => (l as Dense).activation), [activation ?? 'relu', activation ?? 'relu', 'linear']);
      trainer.dispose();
    }
  });

  it("a conditioned M sees [h, c] and the next window's targets and score mask, stream by stream", async () => {
    const [batch, T, units] = [2, 2, 6];
    const task = new FixedTask(batch, T, 3);
    task.windows[1].mask[1] = 0; // step 0 of stream 1 unscored
    const trainer = new SequenceTrainer(task, batch, { ...options('dni', T), conditioned: true });
    const m = trainer.synthesizer!;
    const seen: number[][] = [];
    const predict = m.predict.bind(m);
    m.predict = (state) => (seen.push(Array.from(state.dataSync())), predict(state));
    trainer.trainWindow();
    const saved = await trainer.exportState();
    const [h, c] = saved.tensors.state.map(decode);
    const w = task.windows[1];
    for (let b = 0; b < batch; b++) {
      const row = seen[0].slice(b * (2 * units + T * 3), (b + 1) * (2 * units + T * 3));
      const next = [0, 1].flatMap((t) => [w.y[(t * batch + b) * 2], w.y[(t * batch + b) * 2 + 1], w.mask[t * batch + b]]);
      assert.deepEqual(row, [...h.slice(b * units, (b + 1) * units), ...c.slice(b * units, (b + 1) * units), ...next], `stream ${b}`);
    }
    // the next window was read once, and is the one trained on next
    assert.equal(task.getState(), 2);
    trainer.trainWindow();
    assert.equal(task.getState(), 3);
    trainer.dispose();
  });

  it('with cell tanh, M sees [h, tanh c] and M trains on that input at the next boundary', async () => {
    const [batch, T, units] = [2, 2, 6];
    const task = new FixedTask(batch, T, 3);
    const trainer = new SequenceTrainer(task, batch, { ...options('dni', T), synthesizerCell: 'tanh' });
    const m = trainer.synthesizer!;
    const seen: number[][] = [];
    const trained: number[][] = [];
    const predict = m.predict.bind(m);
    const train = m.train.bind(m);
    m.predict = (state) => (seen.push(Array.from(state.dataSync())), predict(state));
    m.train = (state, ...rest) => (trained.push(Array.from(state.dataSync())), train(state, ...rest));
    trainer.trainWindow();
    const [h, c] = (await trainer.exportState()).tensors.state.map(decode);
    assert.ok(c.some((v) => Math.abs(v) > 0.05), 'a cell state where tanh c differs from c');
    for (let b = 0; b < batch; b++) {
      const row = seen[0].slice(b * 2 * units, (b + 1) * 2 * units);
      const want = [...h.slice(b * units, (b + 1) * units), ...Array.from(c.slice(b * units, (b + 1) * units), (v) => Math.tanh(v))];
      row.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `stream ${b}, unit ${i}: ${v} against ${want[i]}`));
    }
    trainer.trainWindow();
    assert.deepEqual(trained[0], seen[0], 'M trains on the input it predicted from');
    trainer.dispose();
  });

  for (const [name, make] of [
    ['repeat copy, dni+aux', () => ({ task: copyTask(3) as SequenceTask, mode: 'dni+aux' as const })],
    ['repeat copy, dni, conditioned', () => ({ task: copyTask(3) as SequenceTask, mode: 'dni' as const, conditioned: true })],
    ['char-lm, dni', () => ({ task: new CharLmTask(indexCorpus({ train: 'the cat sat on the mat. '.repeat(20), valid: 'the cat', test: 'a mat' }, 'test'), 3) as SequenceTask, mode: 'dni' as const })],
    ['repeat copy, dni+aux, ĝ at h', () => ({ task: copyTask(3) as SequenceTask, mode: 'dni+aux' as const, at: 'h' as const })],
    ['repeat copy, dni+aux, replay 3', () => ({ task: copyTask(3) as SequenceTask, mode: 'dni+aux' as const, replay: 3 })],
    ['repeat copy, dni, conditioned, replay 2', () => ({ task: copyTask(3) as SequenceTask, mode: 'dni' as const, conditioned: true, replay: 2 })],
  ] as const) {
    it(`the state carried across windows survives a checkpoint: resumed = uninterrupted, bit for bit (${name})`, async () => {
      const { task, mode } = make();
      const at = 'at' in make() ? 'h' : 'state';
      const conditioned = 'conditioned' in make();
      const replay = 'replay' in make() ? (make() as unknown as { replay: number }).replay : 1;
      const options = (m: SequenceMode) => ({ ...optionsAt(m, 3, at), conditioned, replay });
      const straight = new SequenceTrainer(task, 3, options(mode));
      if (at === 'h') assert.equal(straight.synthesizer!.net.outputUnits, 2 * 6, 'M predicts dL/dh (and, aux, the next ĝ): units each');
      for (let i = 0; i < 4; i++) straight.trainWindow();
      const saved = JSON.parse(JSON.stringify(await straight.exportState()));
      const resumed = new SequenceTrainer(make().task, 3, options(mode));
      resumed.importState(saved);
      assert.equal(resumed.step, 4);
      for (let i = 0; i < 4; i++) {
        const a = straight.trainWindow();
        const b = resumed.trainWindow();
        assert.equal(b.loss, a.loss, `window ${5 + i}: loss`);
        assert.deepEqual(b.synthesizer, a.synthesizer, `window ${5 + i}: synthesizer step`);
      }
      assert.deepEqual(values([...resumed.lstm.params, ...resumed.synthesizer!.net.params]), values([...straight.lstm.params, ...straight.synthesizer!.net.params]));
      assert.deepEqual(resumed.task.getState(), straight.task.getState());
      straight.dispose();
      resumed.dispose();
    });
  }

  it('replay: M trains on this boundary and the replay - 1 before it, each with the state and target it had then', async () => {
    const trainer = new SequenceTrainer(copyTask(3), 3, { ...options('dni+aux'), replay: 3 });
    const m = trainer.synthesizer!;
    const seen: { state: number[]; target: number[]; aux: number[]; replayed: { state: number[]; target: number[]; aux: number[] } | null }[] = [];
    const train = m.train.bind(m);
    m.train = (state, target, auxTarget, used, replayed) => {
      const read = (t: tf.Tensor) => Array.from(t.dataSync());
      seen.push({ state: read(state), target: read(target), aux: read(auxTarget!), replayed: replayed ? { state: read(replayed.state), target: read(replayed.target), aux: read(replayed.auxTarget!) } : null });
      return train(state, target, auxTarget, used, replayed);
    };
    for (let i = 0; i < 6; i++) trainer.trainWindow();
    assert.equal(seen.length, 5, 'M trains from the second window on');
    assert.equal(seen[0].replayed, null, 'nothing to replay at the first boundary');
    for (let k = 1; k < seen.length; k++) {
      const earlier = seen.slice(Math.max(0, k - 2), k);
      assert.deepEqual(seen[k].replayed, {
        state: earlier.flatMap((e) => e.state),
        target: earlier.flatMap((e) => e.target),
        aux: earlier.flatMap((e) => e.aux),
      }, `step ${k}: the last ${earlier.length} boundaries, oldest first`);
    }
    trainer.dispose();
  });

  it('replay: one Adam step on the stacked rows; the loss and cosine reported are this boundary\'s', async () => {
    const make = () => new TimeSynthesizer({ stateUnits: 4, gradientUnits: 3, aux: false, hiddenLayers: [5], batchNorm: false, learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, rng: stream(5, 'test', 'm') });
    const rng = stream(6, 'test', 'rows');
    const random = (rows: number, cols: number) => tf.tensor2d(Float32Array.from({ length: rows * cols }, () => 2 * rng() - 1), [rows, cols]);
    const [state, target, used] = [random(2, 4), random(2, 3), random(2, 3)];
    const earlier = { state: random(4, 4), target: random(4, 3), auxTarget: null };
    const [replaying, stacked, alone] = [make(), make(), make()];
    for (const m of [replaying, stacked, alone]) m.net.setWeights((await m.net.getWeights()).map((w) => Float32Array.from(w, () => 0.5 * (2 * rng() - 1))));
    // the same starting weights in all three
    const start = await replaying.net.getWeights();
    stacked.net.setWeights(start);
    alone.net.setWeights(start);
    const step = replaying.train(state, target, null, used, earlier);
    stacked.train(tf.concat([state, earlier.state]) as tf.Tensor2D, tf.concat([target, earlier.target]) as tf.Tensor2D, null, tf.concat([used, tf.zeros([4, 3])]) as tf.Tensor2D);
    assert.deepEqual(values(replaying.net.params), values(stacked.net.params));
    const own = alone.train(state, target, null, used);
    assert.notDeepEqual(values(replaying.net.params), values(alone.net.params), 'the replayed rows change the step');
    assert.equal(step.loss, own.loss, "the loss is this boundary's (before the step)");
    assert.equal(step.cosine, own.cosine);
    for (const m of [replaying, stacked, alone]) m.dispose();
  });

  it('a checkpoint of another mode is refused with a message naming what is missing', async () => {
    const cut = new SequenceTrainer(copyTask(2), 2, options('bptt'));
    const dni = new SequenceTrainer(copyTask(2), 2, options('dni'));
    const saved = await cut.exportState();
    assert.throws(() => dni.importState(saved), /missing synthesizer/);
    cut.dispose();
    dni.dispose();
  });
});

function decode(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function concatRows(a: tf.Tensor2D, b: tf.Tensor2D): Float32Array {
  return tf.concat([a, b], 1).dataSync() as Float32Array;
}

/** float32 through two steps and a linear M: relative 1e-4. */
function closeTo(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(...expected.map(Math.abs), 1e-6);
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - expected[i])));
  assert.ok(worst <= 1e-4 * scale, `${what}: max diff ${worst} (scale ${scale})`);
  assert.ok(expected.some((v) => v !== 0), `${what}: the expected target is not all zero`);
}
