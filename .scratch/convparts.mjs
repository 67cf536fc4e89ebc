import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
const root = process.argv[2];
const { Conv2D } = await import(root + '/dist/src/model/conv.js');
const { BatchNorm } = await import(root + '/dist/src/model/batchnorm.js');
const { MaxPool2D } = await import(root + '/dist/src/model/pool.js');
await tf.setBackend('wasm'); await tf.ready();
const B = 128;
function time(name, f, reps = 8) {
  for (let i = 0; i < 2; i++) { const r = f(); (Array.isArray(r) ? r : [r]).forEach(t => { t.dataSync(); t.dispose(); }); }
  const ts = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); const r = f(); (Array.isArray(r) ? r : [r]).forEach(t => { t.dataSync(); t.dispose(); }); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b); const med = ts[reps >> 1];
  console.log(name.padEnd(50), med.toFixed(2), 'ms');
  return med;
}
function convCase(label, shape, filters, needDx) {
  const conv = new Conv2D({ inputShape: shape, filters, kernelSize: 5, useBias: false, activation: 'linear', init: 'zeros' });
  const x = tf.randomNormal([B, ...shape]);
  const dy = tf.randomNormal([B, ...conv.outputShape]);
  const fl = 2 * B * conv.outputShape[0] * conv.outputShape[1] * filters * 25 * shape[2] / 1e9;
  const f = time(`${label} forward (${fl.toFixed(3)} GFLOP)`, () => conv.forward(x, true).y);
  const { trace } = conv.forward(x, true);
  const w = time(`${label} backward dW only`, () => tf.tidy(() => conv.backward(trace, dy, false).grads));
  if (needDx) time(`${label} backward dW+dx`, () => tf.tidy(() => { const r = conv.backward(trace, dy, true); return [...r.grads, r.dx]; }));
  // im2col-free ceiling: matMul of same flops
  const M = B * conv.outputShape[0] * conv.outputShape[1], K = 25 * shape[2], N = filters;
  const a = tf.randomNormal([M, K]), b = tf.randomNormal([K, N]);
  time(`${label} matMul ${M}x${K}x${N} ceiling`, () => tf.matMul(a, b));
  console.log(`   fwd ${(fl / f * 1000).toFixed(1)} GFLOP/s, dW ${(fl / w * 1000).toFixed(1)} GFLOP/s`);
}
convCase('conv1 28x28x1->16', [28, 28, 1], 16, false);
convCase('conv2 14x14x16->32', [14, 14, 16], 32, true);
convCase('synth0 14x14x26->16', [14, 14, 26], 16, false);
const bn = new BatchNorm({ units: 16, inputShape: [28, 28, 16], activation: 'relu' });
const xb = tf.randomNormal([B, 28, 28, 16]);
time('BN 28x28x16 forward', () => bn.forward(xb, true).y);
const fb = bn.forward(xb, true);
time('BN 28x28x16 backward', () => tf.tidy(() => { const r = bn.backward(fb.trace, xb, true); return [...r.grads, r.dx]; }));
const pool = new MaxPool2D({ inputShape: [28, 28, 16], poolSize: 2 });
time('maxpool 28x28x16 forward', () => pool.forward(xb, true).y);
const fp = pool.forward(xb, true);
const dyp = tf.randomNormal([B, 14, 14, 16]);
time('maxpool 28x28x16 backward', () => tf.tidy(() => pool.backward(fp.trace, dyp, true).dx));
const oh = tf.cast(tf.oneHot(tf.randomUniform([B], 0, 10, 'int32'), 10), 'float32');
const h = tf.randomNormal([B, 14, 14, 16]);
time('label tile+concat 14x14x(16+10)', () => tf.tidy(() => tf.concat([h, tf.mul(tf.reshape(oh, [B, 1, 1, 10]), tf.ones([1, 14, 14, 1]))], 3)));
