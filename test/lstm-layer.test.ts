import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Dense, LstmLayer, Sequential, buildLayers, disposeState, disposeWindowTrace, type TimeSynthesizerSpec } from '../src/model/index.js';
import { stream } from '../src/stage/rng.js';

const B = 3;
const T = 4;
const IN = 5;
const UNITS = 6;

function rand(rows: number, cols: number, rng: () => number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from({ length: rows * cols }, () => 2 * rng() - 1), [rows, cols]);
}

function layer(timeSynthesizer: TimeSynthesizerSpec | null): LstmLayer {
  return new LstmLayer({ inputUnits: IN, units: UNITS, streams: B, timeSynthesizer, rng: stream(7, 'init', 'lstm-layer'), name: 'lstm' });
}

function same(a: tf.Tensor, b: tf.Tensor, what: string): void {
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()), what);
}

describe('LstmLayer: an LSTM as a stage layer, its state carried in the layer', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it("M's hidden layers take the spec's activation (relu by default)", () => {
    for (const activation of [undefined, 'tanh'] as const) {
      const l = layer({ hiddenLayers: [4, 3], discount: 1, ...(activation && { activation }) });
      assert.deepEqual(l.synthesizer!.layers.map((d) => (d as Dense).activation), [activation ?? 'relu', activation ?? 'relu', 'linear']);
      tf.dispose(l.params);
    }
  });

  it('two training windows are the LSTM run from the carried state; evaluation starts from zero and leaves it alone', () => {
    const l = layer(null);
    const rng = stream(7, 'test', 'x');
    const x1 = rand(T * B, IN, rng);
    const x2 = rand(T * B, IN, rng);
    const a = l.forward(x1, true);
    // evaluation between two training windows: its own state, from zero
    l.startEvaluation();
    const e = l.forward(x1, false);
    same(e.y, a.y, 'evaluation of the first window from zero = training from zero');
    const b = l.forward(x2, true);
    const first = l.lstm.forward(x1, l.lstm.zeroState(B), T, false);
    const second = l.lstm.forward(x2, first.state, T, false);
    same(a.y, first.hs, 'window 1');
    same(b.y, second.hs, 'window 2 from the carried state');
    same(l.state[0], second.state.h, 'h carried');
    same(l.state[1], second.state.c, 'c carried');
    tf.dispose([x1, x2, a.y, ...a.trace, b.y, ...b.trace, e.y, first.hs, second.hs]);
    disposeState(first.state);
    disposeState(second.state);
    l.dispose();
    tf.dispose([...l.params, ...l.state]);
  });

  it('a zero-initialised time synthesizer changes nothing at step one, and learns from the window', () => {
    const cut = layer(null);
    const dni = layer({ hiddenLayers: [4], discount: 1 });
    same(dni.lstm.kernel, cut.lstm.kernel, 'the same LSTM weights (M draws after them)');
    const rng = stream(7, 'test', 'zero');
    const x = rand(T * B, IN, rng);
    const dy = rand(T * B, UNITS, rng);
    const [fc, fd] = [cut.forward(x, true), dni.forward(x, true)];
    const [bc, bd] = [cut.backward(fc.trace, dy, true), dni.backward(fd.trace, dy, true)];
    same(bd.dx!, bc.dx!, 'dx');
    assert.equal(bd.grads.length, 3 + 4);
    bc.grads.forEach((g, i) => same(bd.grads[i], g, `LSTM gradient ${i}`));
    const outBias = bd.grads[bd.grads.length - 1];
    assert.ok(tf.max(tf.abs(outBias)).dataSync()[0] > 0, "M's output layer has a gradient: its target (the gradient reaching the window's start) is not zero");
    tf.dispose([x, dy, fc.y, fd.y, ...fc.trace, ...fd.trace, bc.dx!, bd.dx!, ...bc.grads, ...bd.grads]);
  });

  it('with a trained M, ĝ = γ·M([h_T, tanh c_T])/B enters the backward pass at h_T; M moves toward B·dL/dh_0', () => {
    const gamma = 0.5;
    const l = layer({ hiddenLayers: [], discount: gamma });
    const M = l.synthesizer!;
    const rng = stream(7, 'test', 'g');
    M.params.forEach((p) => p.assign(tf.tensor(Float32Array.from({ length: p.size }, () => 2 * rng() - 1), p.shape)));
    const x = rand(T * B, IN, rng);
    const dy = rand(T * B, UNITS, rng);
    const f = l.forward(x, true);
    const back = l.backward(f.trace, dy, true);
    // the same by hand: the LSTM window's backward with dFinal = (γ·M([h_T, tanh c_T])/B, 0)
    const fwd = l.lstm.forward(x, l.lstm.zeroState(B), T, true);
    const g = tf.mul(M.forward(tf.concat([fwd.state.h, tf.tanh(fwd.state.c)], 1), false).y, gamma / B) as tf.Tensor2D;
    const ref = l.lstm.backward(fwd.trace!, dy as tf.Tensor2D, { h: g, c: tf.zerosLike(g) }, true);
    same(back.dx!, ref.dx!, 'dx with the synthetic gradient');
    ref.grads.forEach((r, i) => same(back.grads[i], r, `LSTM gradient ${i}`));
    // M's gradient: of the mean over the B streams of ||M(s_0) - B·dL/dh_0||², s_0 the window's start (zero)
    const target = tf.mul(ref.dState.h, B);
    const mOut = M.forward(tf.zeros([B, 2 * UNITS]), false).y;
    const dBias = tf.sum(tf.mul(tf.sub(mOut, target), 2 / B), 0);
    const got = back.grads[back.grads.length - 1];
    const worst = tf.max(tf.abs(tf.sub(got, dBias))).dataSync()[0];
    assert.ok(worst < 1e-6, `M's bias gradient off by ${worst}`);
    const figures = l.takeFigures();
    assert.ok(figures, 'the time synthesizer reports its loss and cosine');
    assert.ok(Number.isFinite(figures!.loss.dataSync()[0]));
    assert.equal(l.takeFigures(), null, 'once');
    disposeWindowTrace(fwd.trace);
  });

  it('the carried state is in the weights a stage checkpoints, and comes back from them', async () => {
    const spec = { type: 'lstm' as const, units: UNITS, streams: B, timeSynthesizer: { hiddenLayers: [4], discount: 1 } };
    const build = () => new Sequential(buildLayers([spec], [IN], (i) => stream(3, 'init', 'layer', i)).layers);
    const a = build();
    const rng = stream(7, 'test', 'ckpt');
    const x1 = rand(T * B, IN, rng);
    const x2 = rand(T * B, IN, rng);
    tf.dispose(Object.values(a.forward(x1, true)).flat());
    const saved = await a.getWeights();
    assert.equal(saved.length, 3 + 4 + 2, 'LSTM, M, then h and c');
    const b = build();
    b.setWeights(saved);
    const ya = a.forward(x2, true);
    const yb = b.forward(x2, true);
    same(yb.y, ya.y, 'the next window continues from the restored state');
    tf.dispose([x1, x2, ya.y, yb.y, ...ya.trace.flat(), ...yb.trace.flat()]);
    a.dispose();
    b.dispose();
  });
});
