import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '@tensorflow/tfjs-backend-wasm';
import {
  benchTable,
  findTorchPython,
  parseReferenceOutput,
  probeTorch,
  referenceBlas,
  referenceRatios,
  referenceRequest,
  runBench,
  runReference,
  referenceSettings,
  settingName,
  tuneReference,
  REFERENCE_SCRIPT,
  type BenchOptions,
  type ReferenceRun,
  type RunRecord,
} from '../src/lab/bench/index.js';
import { resolveConfig } from '../src/config/resolve.js';
import { ConfigError } from '../src/config/errors.js';
import { data, smallConfig } from './helpers/fixtures.js';
import { withTempDir } from './helpers/temp-dir.js';

/** A report as scripts/torch-reference.py prints it. */
const report = (samplesPerSecond: number, mode = 'cdni') => ({
  format: 'synthgrad-torch-reference/1',
  torch: '1.13.0-fake',
  threads: 2,
  mode,
  steps: 20,
  warmup: 10,
  batchSize: 32,
  samplesPerSecond,
  wallSeconds: 0.5,
  cpuSeconds: 0.25,
  blas: ['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3'],
  environment: { OMP_WAIT_POLICY: 'PASSIVE', OPENBLAS_NUM_THREADS: '1' },
});

/**
 * A stand-in python: answers the torch probe (`-c ...`) with a version, and the script with a
 * report (by default one whose samples/s is 1000 for backprop and 500 for cdni; `answer`: a shell
 * line that echoes one for the request in $request); it keeps every request it read.
 */
function fakePython(dir: string, answer?: string): string {
  const path = join(dir, 'python');
  const requests = join(dir, 'requests.jsonl');
  const backprop = JSON.stringify(report(1000, 'backprop'));
  const cdni = JSON.stringify(report(500, 'cdni'));
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      'if [ "$1" = "-c" ]; then echo 1.13.0-fake; exit 0; fi',
      'request=$(cat)',
      `echo "$request" >> '${requests}'`,
      'echo "some progress line"',
      answer ?? `case "$request" in *'"mode":"backprop"'*) echo '${backprop}' ;; *) echo '${cdni}' ;; esac`,
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  return path;
}

test('the reference script ships beside dist/ and in the package', () => {
  assert.ok(existsSync(REFERENCE_SCRIPT), REFERENCE_SCRIPT);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('scripts/torch-reference.py'));
});

test('without a python that has torch, the bench names what it tried and how to get PyTorch', () => {
  const tried: string[] = [];
  const missing = (python: string) => (tried.push(python), { python, error: "ModuleNotFoundError: No module named 'torch'" });
  assert.throws(
    () => findTorchPython(undefined, missing),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const text = e.message;
      assert.match(text, /\/usr\/bin\/python3: ModuleNotFoundError: No module named 'torch'/);
      assert.match(text, /apt-get install python3-torch/);
      assert.match(text, /--python/);
      return true;
    },
  );
  assert.deepEqual(tried, ['/usr/bin/python3', 'python3'], "Debian's python first, then the PATH's");
  // a named python is the only one tried
  tried.length = 0;
  assert.throws(() => findTorchPython('/opt/py/bin/python', missing), /apt-get install python3-torch/);
  assert.deepEqual(tried, ['/opt/py/bin/python']);
  assert.deepEqual(findTorchPython(undefined, (python) => (python === 'python3' ? { python, version: '2.1' } : { python, error: 'no torch' })), { python: 'python3', version: '2.1' });
});

test('probing a python: a missing program or one without torch is an error, not a version', async () => {
  const gone = probeTorch('/nonexistent/python3');
  assert.ok('error' in gone && /ENOENT/.test(gone.error));
  await withTempDir('synthgrad-ref', (dir) => {
    const path = join(dir, 'python');
    writeFileSync(path, "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n");
    chmodSync(path, 0o755);
    assert.deepEqual(probeTorch(path), { python: path, error: "ModuleNotFoundError: No module named 'torch'" });
    assert.deepEqual(probeTorch(fakePython(dir)), { python: join(dir, 'python'), version: '1.13.0-fake' });
  });
});

test("the script's report: its last stdout line, checked field by field", () => {
  const good = report(2480);
  assert.deepEqual(parseReferenceOutput(`loading\n${JSON.stringify(good)}\n`), good);
  assert.throws(() => parseReferenceOutput('Traceback ...'), /expected a JSON line on stdout, got "Traceback \.\.\."/);
  assert.throws(() => parseReferenceOutput(JSON.stringify({ ...good, samplesPerSecond: -1 })), /samplesPerSecond/);
  assert.throws(() => parseReferenceOutput(JSON.stringify({ ...good, format: 'other/1' })), /format/);
});

test("the request carries the config's model, stages, synthesizer, optimizer and batch", () => {
  const config = resolveConfig({ preset: 'mnist-cnn-cdni', overrides: { out: 'unused' } });
  const request = referenceRequest(config, 'cdni', { steps: 300, warmup: 100, threads: 2 });
  assert.deepEqual(request.stages, [[0, 1], [2, 3, 4], [5, 6]]);
  assert.deepEqual(request.model.layers.map((l) => l.type), ['conv2d', 'maxpool', 'conv2d', 'maxpool', 'flatten', 'dense', 'dense']);
  assert.deepEqual(request.synthesizer, { hiddenLayers: [], batchNorm: false, kernelSize: 5 });
  assert.deepEqual(request.optimizer, { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
  assert.equal(request.batchSize, 128);
  assert.deepEqual([request.steps, request.warmup, request.threads, request.mode], [300, 100, 2, 'cdni']);
  // the MLP has one layer per stage when the config names no grouping
  const mlp = referenceRequest(resolveConfig({ preset: 'mnist-backprop', overrides: { out: 'unused' } }), 'backprop', { steps: 3, warmup: 0, threads: 1 });
  assert.deepEqual(mlp.stages, [[0], [1], [2], [3]]);
  assert.equal(typeof referenceRequest(smallConfig({ train: { seed: 'abc' } }), 'backprop', { steps: 3, warmup: 0, threads: 1 }).seed, 'number');
});

test('ratios are paired per repetition, each configuration with the reference of its mode', () => {
  const run = (config: string, repetition: number, samplesPerSecond: number) => ({ config, repetition, samplesPerSecond }) as RunRecord;
  const ref = (config: string, repetition: number, samplesPerSecond: number) => ({ config, repetition, samplesPerSecond }) as ReferenceRun;
  const ratios = referenceRatios(
    [run('cdni/async', 1, 300), run('backprop/lockstep', 1, 100), run('cdni/async', 2, 200), run('backprop/lockstep', 2, 90), run('cdni/async', 3, 400)],
    // the machine slows down in repetition 2: both halves of its pair
    [ref('pytorch/cdni', 1, 1000), ref('pytorch/backprop', 1, 400), ref('pytorch/cdni', 2, 500), ref('pytorch/backprop', 2, 300)],
  );
  assert.deepEqual(
    ratios.map((r) => [r.config, r.reference, r.ratios, r.paired, r.referenceMedianSamplesPerSecond]),
    [
      ['cdni/async', 'pytorch/cdni', [0.3, 0.4], 0.35, 750],
      ['backprop/lockstep', 'pytorch/backprop', [0.25, 0.3], 0.275, 350],
    ],
  );
  assert.deepEqual(referenceRatios([run('dni/async', 1, 1)], [ref('pytorch/cdni', 1, 1)]), [], 'no reference of that mode, no ratio');
});

test("Debian's reference BLAS is told apart from OpenBLAS", () => {
  assert.equal(referenceBlas(['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3']), true);
  assert.equal(referenceBlas(['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3', '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so']), false);
  assert.equal(referenceBlas([]), false);
});

test('a failing reference rejects with its stderr', async () => {
  await withTempDir('synthgrad-ref', async (dir) => {
    const path = join(dir, 'python');
    writeFileSync(path, '#!/bin/sh\ncat > /dev/null\necho "torch-reference: warmup 5 must be below steps 5" >&2\nexit 2\n');
    chmodSync(path, 0o755);
    const request = referenceRequest(smallConfig(), 'backprop', { steps: 5, warmup: 5, threads: 1 });
    await assert.rejects(runReference(path, request), /exited with 2: torch-reference: warmup 5 must be below steps 5/);
  });
});

/** A bench of 3-step runs, 2 repetitions, of `configs` on the small cDNI config, in `dir`/bench. */
const smallBench = (dir: string, configs: string[], more: Partial<BenchOptions>) =>
  runBench({ config: smallConfig({ mode: 'cdni' }), configs, steps: 3, warmup: 0, repetitions: 2, out: join(dir, 'bench'), data: data(), cores: 2, matMul: { warmup: 1, reps: 2 }, ...more });

test('bench --reference: the reference of each mode runs first in every repetition, and the table pairs every configuration with it', async () => {
  await withTempDir('synthgrad-ref', async (dir) => {
    const python = fakePython(dir);
    const started: string[] = [];
    const result = await smallBench(dir, ['backprop/sequential', 'cdni/sequential'], {
      reference: { python, tune: false },
      onRunStart: (run) => started.push(`${run.config.name}#${run.repetition}`),
    });
    assert.deepEqual(started, [
      'pytorch/backprop#1', 'pytorch/cdni#1', 'backprop/sequential#1', 'cdni/sequential#1',
      'pytorch/backprop#2', 'pytorch/cdni#2', 'backprop/sequential#2', 'cdni/sequential#2',
    ]);
    const requests = readFileSync(join(dir, 'requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { mode: string; steps: number; threads: number; batchSize: number });
    assert.deepEqual(requests.map((r) => [r.mode, r.steps, r.threads, r.batchSize]), [
      ['backprop', 3, 2, 32], ['cdni', 3, 2, 32], ['backprop', 3, 2, 32], ['cdni', 3, 2, 32],
    ]);
    const reference = result.reference!;
    assert.equal(reference.python, python);
    assert.equal(reference.runs.length, 4);
    const sg = (config: string) => result.runs.filter((r) => r.config === config).map((r) => r.samplesPerSecond);
    const [backprop, cdni] = reference.ratios;
    assert.deepEqual(backprop.ratios, sg('backprop/sequential').map((x) => x / 1000));
    assert.deepEqual(cdni.ratios, sg('cdni/sequential').map((x) => x / 500));
    const table = benchTable(result);
    assert.match(table, /against PyTorch 1\.13\.0-fake \(same model.*BLAS: libblas\.so\.3\)/);
    assert.match(table, /pytorch\/backprop ran on 2 threads, OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1\n/, 'untuned: no settings tried');
    assert.deepEqual(reference.tuning, []);
    assert.ok(requests.every((r) => !('blasThreads' in r) && !('ompWaitPolicy' in r)), "untuned: the script's own settings");
    assert.match(table, /cdni\/sequential over pytorch\/cdni: paired \d+\.\d\dx \(per repetition \d+\.\d\d \d+\.\d\d\); pytorch\/cdni median 500 samples\/s/);
    const json = JSON.parse(readFileSync(join(dir, 'bench', 'bench.json'), 'utf8')) as typeof result;
    assert.deepEqual(json.reference!.ratios, reference.ratios, 'bench.json keeps the pairs');
  });
});

test('reference settings: all threads or one for BLAS, passive or default waits, and one thread alone; none twice', () => {
  assert.deepEqual(referenceSettings(2).map(settingName), [
    '2 threads, 2 BLAS threads, passive waits',
    '2 threads, 1 BLAS thread, passive waits',
    "2 threads, 1 BLAS thread, libgomp's default waits",
    "2 threads, 2 BLAS threads, libgomp's default waits",
    '1 thread, 1 BLAS thread, passive waits',
  ]);
  assert.deepEqual(referenceSettings(1).map(settingName), ['1 thread, 1 BLAS thread, passive waits', "1 thread, 1 BLAS thread, libgomp's default waits"]);
});

test('tuning the reference: every setting is tried once, in order, and the fastest is chosen', async () => {
  const settings = referenceSettings(2);
  const tried: string[] = [];
  const speed = [300, 900, 200, 900.5, 100];
  const tuning = await tuneReference('cdni', settings, async (s) => {
    tried.push(settingName(s));
    return speed[tried.length - 1];
  });
  assert.deepEqual(tried, settings.map(settingName));
  assert.deepEqual(tuning.chosen, settings[3]);
  assert.deepEqual(tuning.trials.map((t) => t.samplesPerSecond), speed);
  await assert.rejects(tuneReference('cdni', [], async () => 1), /no settings/);
});

test('bench --reference tunes the reference of each mode before the runs and runs it in the fastest setting', async () => {
  await withTempDir('synthgrad-ref', async (dir) => {
    // the stand-in runs fastest on one thread with one BLAS thread (an answer none of the script's defaults give)
    const fast = JSON.stringify({ ...report(2000, 'backprop'), threads: 1 });
    const slow = JSON.stringify(report(700, 'backprop'));
    const path = fakePython(dir, `case "$request" in *'"threads":1,'*) echo '${fast}' ;; *) echo '${slow}' ;; esac`);
    const requests = join(dir, 'requests.jsonl');
    const trials: string[] = [];
    const result = await smallBench(dir, ['backprop/sequential'], {
      reference: { python: path },
      onReferenceTrial: (mode, t) => trials.push(`${mode}: ${settingName(t.setting)} ${t.samplesPerSecond}`),
    });
    const sent = readFileSync(requests, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { threads: number; blasThreads?: number; ompWaitPolicy?: string });
    assert.equal(sent.length, 5 + 2, 'five settings tried, then one run per repetition');
    assert.deepEqual(sent.slice(0, 5).map((r) => [r.threads, r.blasThreads, r.ompWaitPolicy]), referenceSettings(2).map((s) => [s.threads, s.blasThreads, s.ompWait]));
    assert.deepEqual(sent.slice(5).map((r) => [r.threads, r.blasThreads, r.ompWaitPolicy]), [[1, 1, 'PASSIVE'], [1, 1, 'PASSIVE']], 'the runs use the fastest setting');
    assert.equal(trials.length, 5);
    const reference = result.reference!;
    assert.deepEqual(reference.tuning.map((t) => [t.mode, settingName(t.chosen)]), [['backprop', '1 thread, 1 BLAS thread, passive waits']]);
    assert.deepEqual(reference.runs.map((r) => r.samplesPerSecond), [2000, 2000]);
    const table = benchTable(result);
    assert.match(table, /pytorch\/backprop ran on 1 thread, .*the fastest of the settings tried once each before the runs \(samples\/s: 2 threads, 2 BLAS threads, passive waits 700; .*1 thread, 1 BLAS thread, passive waits 2000\)/);
    const json = JSON.parse(readFileSync(join(dir, 'bench', 'bench.json'), 'utf8')) as typeof result;
    assert.deepEqual(json.reference!.tuning, reference.tuning, 'bench.json keeps the trials');
  });
});
