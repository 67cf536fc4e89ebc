import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CopyTask, type CopyOptions } from '../src/sequence/copy.js';
import { Curriculum } from '../src/sequence/curriculum.js';
import { TextStreams } from '../src/sequence/char-lm.js';
import { decodePtbChars, fileSplits, indexCorpus, untagBrown } from '../src/sequence/corpus.js';
import { PathError } from '../src/path-error.js';
import { withTempDir } from './helpers/temp-dir.js';

const copy = (variant: CopyOptions['variant'], batch = 2, start = 2): CopyTask =>
  new CopyTask({ variant, batch, bits: 3, maxRepeats: 2, curriculum: { threshold: 0.15, window: 4, start }, seed: 5 });

/** Row r of a time-major [rows, units] array. */
const row = (a: Float32Array, units: number, r: number) => Array.from(a.subarray(r * units, (r + 1) * units));

describe('Copy task', () => {
  it('an episode reads L vectors, a delimiter, then must write the L vectors (only those scored)', () => {
    const task = copy('copy', 1, 2);
    const w = task.next(5); // L=2: 2 data steps, delimiter, 2 answer steps
    assert.deepEqual(Array.from(w.mask), [0, 0, 0, 1, 1]);
    assert.deepEqual(row(w.x, 4, 2), [0, 0, 0, 1]);
    assert.deepEqual(row(w.x, 4, 3), [0, 0, 0, 0]);
    assert.deepEqual(row(w.y, 3, 3), row(w.x, 4, 0).slice(0, 3));
    assert.deepEqual(row(w.y, 3, 4), row(w.x, 4, 1).slice(0, 3));
    assert.deepEqual(row(w.y, 3, 0), [0, 0, 0]);
    // a zero state at each episode's first step
    assert.deepEqual(Array.from(w.carry!), [0, 1, 1, 1, 1]);
  });

  it('Repeat Copy writes the vectors R times, then an end flag; R is on the delimiter step', () => {
    const task = copy('repeat-copy', 1, 2);
    const w = task.next(12);
    const r = row(w.x, 5, 2)[4] * 2; // R / maxRepeats
    assert.ok(r === 1 || r === 2);
    const steps = 2 + 1 + 2 * r + 1;
    assert.deepEqual(Array.from(w.mask.subarray(0, steps)), [0, 0, 0, ...new Array(2 * r + 1).fill(1)]);
    for (let k = 0; k < r; k++) {
      assert.deepEqual(row(w.y, 4, 3 + 2 * k), [...row(w.x, 5, 0).slice(0, 3), 0]);
      assert.deepEqual(row(w.y, 4, 4 + 2 * k), [...row(w.x, 5, 1).slice(0, 3), 0]);
    }
    assert.deepEqual(row(w.y, 4, steps - 1), [0, 0, 0, 1]);
  });

  it('streams are contiguous across windows and the same from the same seed', () => {
    const whole = copy('repeat-copy', 3).next(8);
    const parts = copy('repeat-copy', 3);
    const a = parts.next(3);
    const b = parts.next(5);
    assert.deepEqual([...a.x, ...b.x], Array.from(whole.x));
    assert.deepEqual([...a.y, ...b.y], Array.from(whole.y));
  });

  it('the curriculum grows the length when the error of the last episodes falls below the threshold', () => {
    const task = copy('copy', 2, 1);
    assert.equal(task.curriculum.length, 1);
    // L=1: 3 steps an episode, 2 streams: 4 episodes end in two windows of 3 steps
    for (let i = 0; i < 2; i++) {
      const w = task.next(3);
      task.observe(w, new Float32Array(6).fill(0.01));
    }
    assert.deepEqual(task.figures().solved, 1);
    assert.equal(task.curriculum.length, 2);
    // a high error keeps the length
    for (let i = 0; i < 4; i++) {
      const w = task.next(5);
      task.observe(w, Float32Array.from(w.mask, (m) => m * 5));
    }
    assert.equal(task.curriculum.length, 2);
    assert.equal(task.figures().solved, 1);
  });

  it('its state continues the streams exactly', () => {
    const a = copy('repeat-copy', 2);
    a.next(7);
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const b = copy('repeat-copy', 2);
    b.setState(saved);
    assert.deepEqual(Array.from(b.next(9).x), Array.from(a.next(9).x));
  });

  it('Curriculum checks its options', () => {
    assert.throws(() => new Curriculum({ threshold: 0, window: 4, start: 1 }), /threshold must be positive/);
  });
});

describe('character corpus', () => {
  it('strips Brown Corpus tags and lower-cases', () => {
    assert.equal(untagBrown('\n\tThe/at Fulton/np-tl jury/nn ./.\n\n'), 'the fulton jury .');
  });

  it("decodes PTB's character files", () => {
    assert.equal(decodePtbChars('a e r _ b a n k\n\nn o _\n'), 'aer bank\nno ');
  });

  it('splits a plain-text file 90/5/5 and reads ptb.char.* files beside each other', async () => {
    await withTempDir('charlm', (dir) => {
      const text = 'abcdefghij'.repeat(200);
      const file = join(dir, 'book.txt');
      writeFileSync(file, text);
      const s = fileSplits(file);
      assert.deepEqual([s.train.length, s.valid.length, s.test.length], [1800, 100, 100]);
      for (const split of ['train', 'valid', 'test']) writeFileSync(join(dir, `ptb.char.${split}.txt`), `${split[0]} _ x\n`);
      assert.deepEqual(fileSplits(join(dir, 'ptb.char.valid.txt')), { train: 't x', valid: 'v x', test: 't x' });
      assert.throws(() => fileSplits(join(dir, 'missing.txt')), (e: unknown) => e instanceof PathError && /missing\.txt: does not exist/.test((e as Error).message));
      writeFileSync(join(dir, 'short.txt'), 'too short');
      assert.throws(() => fileSplits(join(dir, 'short.txt')), /at least 1000 are needed/);
    });
  });

  it('indexes characters from the training split; others map to index 0', () => {
    const c = indexCorpus({ train: 'abba', valid: 'abz', test: 'ba' }, 'x');
    assert.deepEqual(c.vocabulary, ['\u0000', 'a', 'b']);
    assert.deepEqual(Array.from(c.valid), [1, 2, 0]);
  });

  it('text streams read contiguous segments window after window', () => {
    const text = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const s = new TextStreams(text, 9, 2); // segments of 4: stream 0 reads 0..4, stream 1 reads 4..8
    const argmax = (a: Float32Array, r: number) => row(a, 9, r).indexOf(1);
    const w1 = s.next(3);
    const w2 = s.next(2);
    assert.deepEqual([0, 2, 4].map((r) => argmax(w1.x, r)), [0, 1, 2]);
    assert.deepEqual([1, 3, 5].map((r) => argmax(w1.x, r)), [4, 5, 6]);
    assert.deepEqual([1, 3, 5].map((r) => argmax(w1.y, r)), [5, 6, 7]);
    // stream 0 reads its last character, then starts its segment again
    assert.deepEqual([0, 2].map((r) => argmax(w2.x, r)), [3, 0]);
  });
});
