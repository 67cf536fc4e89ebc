import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { missingFile, testNeeding } from './helpers/needs.js';
import { ReportError, readRun, writeReport } from '../src/lab/report/index.js';
import { errorByUpdateProbability } from '../src/lab/report/update-probability.js';
import { differingFields, runLabels } from '../src/lab/report/differences.js';
import { chartData } from '../src/lab/report/chart-data.js';
import { meanProbeCosines, utilisation } from '../src/lab/report/figures.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const chromiumPath = '/usr/bin/chromium';
const chartIds = ['loss', 'eval-loss', 'train-accuracy', 'accuracy-step', 'accuracy-time', 'learning-rate', 'synth-loss', 'synth-cosine', 'true-cosine', 'utilisation'];

let root: string;
let runA: string; // cdni, 3 stages (synthesizers at stages 0 and 1), finished: summary.json
let runB: string; // backprop, 2 stages, no synthesizer, no summary.json, torn last line
let runC: string; // just started: config.json and an empty metrics.jsonl
let sweep: string[]; // cdni at p = 1, 0.2, 0.05 and dni at p = 0.2 (finished), as a p-sweep writes them

interface FakeRun {
  id: string;
  preset: string;
  mode: 'cdni' | 'dni' | 'backprop';
  stages: number;
  epochs: number;
  summary: boolean;
  torn?: boolean;
  /** Written to config.json's train.updateProbability when given. */
  updateProbability?: number;
  /** summary.json's testAccuracy (default 0.91). */
  testAccuracy?: number;
  /** config.json's optimizer.learningRate (default 1e-3). */
  learningRate?: number;
  /** Gradient probe lines (train.probeEvery), one per epoch. */
  probes?: boolean;
}

function stageStats(run: FakeRun, epoch: number) {
  return Array.from({ length: run.stages }, (_, stage) => {
    const synth = run.mode !== 'backprop' && stage < run.stages - 1;
    return {
      stage,
      busySeconds: epoch * (3 - stage * 0.5),
      waitSeconds: epoch * (0.5 + stage),
      sendSeconds: epoch * 0.1,
      runQueueSeconds: epoch * 0.25,
      updates: epoch * 100,
      skippedUpdates: 0,
      synthesizerUpdates: synth ? epoch * 100 : 0,
      synthesizerLoss: synth ? 0.1 / epoch + stage * 0.01 : null,
      synthesizerCosine: synth ? 0.4 + 0.1 * epoch : null,
    };
  });
}

function writeRun(dir: string, run: FakeRun): string {
  mkdirSync(dir, { recursive: true });
  const p = run.updateProbability === undefined ? {} : { updateProbability: run.updateProbability };
  const optimizer = { learningRate: run.learningRate ?? 1e-3, decaySteps: [150, 250], decayFactor: 0.1 };
  const config = { preset: run.preset, mode: run.mode, optimizer, train: { epochs: run.epochs, batchSize: 32, schedule: 'async', window: 4, ...p }, out: `/somewhere/${run.id}` };
  const backends = Array.from({ length: run.stages }, () => 'cpu');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ runId: run.id, config, backends, window: run.mode === 'backprop' ? 1 : 4 }));
  const start = Date.parse('2026-01-01T00:00:00Z');
  const better = run.mode === 'backprop' ? 0.6 : 1; // so the runs' lines do not coincide
  const lines: string[] = [];
  let t = 0;
  for (let epoch = 1; epoch <= run.epochs; epoch++) {
    for (let k = 1; k <= 4; k++) {
      const step = (epoch - 1) * 100 + k * 25;
      t += 1.5;
      lines.push(JSON.stringify({ time: new Date(start + t * 1000).toISOString(), type: 'train', epoch, step, loss: (2 * better) / step ** 0.5, accuracy: 1 - better / step ** 0.5 }));
    }
    t += 2 * better;
    lines.push(
      JSON.stringify({
        time: new Date(start + t * 1000).toISOString(),
        type: 'epoch',
        epoch,
        step: epoch * 100,
        trainLoss: 0.5 / epoch,
        trainAccuracy: 0.8 + 0.05 * epoch,
        valLoss: 0.4 / epoch,
        valAccuracy: 0.82 + 0.05 * epoch + 0.05 * (1 - better),
        testLoss: 0.45 / epoch,
        testAccuracy: 0.81 + 0.05 * epoch + 0.05 * (1 - better),
        epochSeconds: 8,
        samplesPerSecond: 400,
        stages: stageStats(run, epoch),
      }),
    );
    if (run.probes) {
      // a probe lost with a restarted stage has no cosines: not a point of the chart
      if (epoch === 2) lines.push(JSON.stringify({ time: new Date(start + t * 1000).toISOString(), type: 'probe', step: 150, lost: true }));
      const cosine = Array.from({ length: run.stages }, (_, s) => (s === run.stages - 1 ? null : 0.5 + 0.1 * s + 0.01 * epoch));
      lines.push(JSON.stringify({ time: new Date(start + t * 1000).toISOString(), type: 'probe', step: epoch * 100, cosine }));
    }
  }
  let text = lines.join('\n') + '\n';
  if (run.torn) text += '{"time":"2026-01-01T00:01:00.000Z","type":"train","epoch":3,"st';
  writeFileSync(join(dir, 'metrics.jsonl'), text);
  if (run.summary) {
    const perStage = stageStats(run, run.epochs).map((s) => ({ ...s, layers: [`${s.stage}: dense`], backend: 'cpu' }));
    writeFileSync(
      join(dir, 'summary.json'),
      JSON.stringify({
        runId: run.id, outDir: dir, preset: run.preset, mode: run.mode, schedule: 'async', window: 4, backend: 'cpu', stages: run.stages,
        epochs: run.epochs, steps: run.epochs * 100, batchSize: 32, wallSeconds: t + 1, trainSeconds: t, trainSamplesPerSecond: 400,
        valAccuracy: 0.92, valLoss: 0.2, testAccuracy: run.testAccuracy ?? 0.91, testLoss: 0.22, perStage,
      }),
    );
  }
  return dir;
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'synthgrad-report-'));
  runA = writeRun(join(root, 'run-a'), { id: 'run-a-cdni-1234', preset: 'mnist-cdni', mode: 'cdni', stages: 3, epochs: 3, summary: true, probes: true });
  runB = writeRun(join(root, 'run-b'), { id: 'run-b-backprop-5678', preset: 'mnist-backprop', mode: 'backprop', stages: 2, epochs: 2, summary: false, torn: true });
  runC = join(root, 'run-c');
  mkdirSync(runC);
  writeFileSync(join(runC, 'config.json'), JSON.stringify({ runId: 'run-c-started', config: { mode: 'dni', train: {} }, backends: ['cpu', 'cpu'] }));
  writeFileSync(join(runC, 'metrics.jsonl'), '');
  sweep = [
    writeRun(join(root, 'cdni-p1'), { id: 'cdni-p1', preset: 'mnist-fcn4-cdni', mode: 'cdni', stages: 4, epochs: 2, summary: true, updateProbability: 1, testAccuracy: 0.98 }),
    writeRun(join(root, 'cdni-p0.05'), { id: 'cdni-p0.05', preset: 'mnist-fcn4-cdni', mode: 'cdni', stages: 4, epochs: 2, summary: true, updateProbability: 0.05, testAccuracy: 0.9 }),
    writeRun(join(root, 'cdni-p0.2'), { id: 'cdni-p0.2', preset: 'mnist-fcn4-cdni', mode: 'cdni', stages: 4, epochs: 2, summary: true, updateProbability: 0.2, testAccuracy: 0.95 }),
    writeRun(join(root, 'dni-p0.2'), { id: 'dni-p0.2', preset: 'mnist-fcn4-dni', mode: 'dni', stages: 4, epochs: 2, summary: true, updateProbability: 0.2, testAccuracy: 0.93 }),
  ];
});

after(() => rmSync(root, { recursive: true, force: true }));

test('readRun reads a run, skips a torn last line and falls back without summary.json', () => {
  const a = readRun(runA);
  assert.equal(a.id, 'run-a-cdni-1234');
  assert.equal(a.train.length, 12);
  assert.equal(a.epochs.length, 3);
  assert.equal(a.epochs[0].wallSeconds, 6 + 2 - 1.5, 'seconds since the first metrics line');
  assert.equal(a.epochs[2].stages[2].synthesizerLoss, null);
  assert.ok(a.summary);
  const b = readRun(runB);
  assert.equal(b.summary, null);
  assert.equal(b.train.length, 8, 'the torn last line is skipped');
  assert.ok(b.notes.some((n) => /incomplete/.test(n)));
  assert.ok(b.notes.some((n) => /summary\.json/.test(n)));
});

test('writeReport writes one self-contained page with every run (default: <first run dir>/report.html)', () => {
  const path = writeReport([runA, runB]);
  assert.equal(path, join(runA, 'report.html'));
  assert.ok(existsSync(path));
  assert.deepEqual(readdirSync(runA).filter((f) => f.includes('.tmp')), [], 'no temporary file left behind');
  const html = readFileSync(path, 'utf8');
  assert.match(html, /run-a-cdni-1234/);
  assert.match(html, /run-b-backprop-5678/);
  assert.doesNotMatch(html, /<script\b[^>]*\bsrc\s*=/i, 'no external script');
  assert.doesNotMatch(html, /<(?:link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i, 'no external resource');
  const opened = html.match(/<script\b/gi)?.length ?? 0;
  const closed = html.match(/<\/script/gi)?.length ?? 0;
  assert.equal(opened, 3, 'data, Chart.js and the page script');
  assert.equal(closed, opened, 'inlined text contains no </script');
  assert.doesNotMatch(html, /sourceMappingURL/);
  for (const id of chartIds) assert.match(html, new RegExp(`<canvas id="${id}"`));
});

test('a report over runs that differ in updateProbability has test error against p, one line per mode', () => {
  const runs = sweep.map((dir) => readRun(dir));
  const series = errorByUpdateProbability(runs);
  assert.ok(series);
  assert.deepEqual(
    series.map((s) => ({ mode: s.mode, points: s.points.map((pt) => [pt.x, Number(pt.y.toFixed(6)), pt.run]) })),
    [
      { mode: 'cdni', points: [[0.05, 10, 'cdni-p0.05'], [0.2, 5, 'cdni-p0.2'], [1, 2, 'cdni-p1']] },
      { mode: 'dni', points: [[0.2, 7, 'dni-p0.2']] },
    ],
    'sorted by p, error = 100 (1 - test accuracy)',
  );
  assert.equal(errorByUpdateProbability([readRun(runA), readRun(runB)]), null, 'no p in config.json: no chart');
  assert.equal(errorByUpdateProbability(runs.filter((r) => r.id.includes('0.2'))), null, 'one p only: no chart');
  const html = readFileSync(writeReport(sweep, join(root, 'sweep.html')), 'utf8');
  assert.match(html, /<canvas id="error-vs-p"/);
  assert.doesNotMatch(readFileSync(writeReport([runA, runB], join(root, 'no-sweep.html')), 'utf8'), /<canvas id="error-vs-p"/);
});

test('overlaid runs are labelled by the config fields that differ; where a run is stored does not count', () => {
  const dir = join(root, 'labels');
  const base = { preset: 'mnist-cdni', mode: 'cdni', stages: 2, epochs: 1, summary: true } as const;
  const runs = [
    writeRun(join(dir, 'lr-3'), { ...base, id: 'lr-3' }),
    writeRun(join(dir, 'lr-2'), { ...base, id: 'lr-2', learningRate: 1e-2 }),
  ].map((d) => readRun(d));
  assert.deepEqual(differingFields(runs), ['optimizer.learningRate']);
  assert.deepEqual(runLabels(runs), ['lr-3: optimizer.learningRate=0.001', 'lr-2: optimizer.learningRate=0.01']);
  assert.deepEqual(runLabels([runs[0]]), ['lr-3 (mnist-cdni, cdni)'], 'one run: its preset and mode');
  const html = readFileSync(writeReport(runs.map((r) => r.dir), join(dir, 'labels.html')), 'utf8');
  assert.match(html, /<tr class="differs"><td><code>optimizer\.learningRate<\/code><\/td><td><code>0\.001<\/code><\/td><td><code>0\.01<\/code><\/td><\/tr>/);
  assert.match(html, /<td><code>train\.batchSize<\/code><\/td><td><code>32<\/code><\/td><td><code>32<\/code><\/td>/, 'every field, the same ones too');
  assert.doesNotMatch(html, /somewhere/, 'out is left out');
});

test('chart data: validation and test loss, training accuracy, the learning rate with its decay steps, and utilisation without run-queue time', () => {
  const data = chartData([readRun(runA)]);
  const [run] = data.runs;
  assert.deepEqual(run.valLossByStep.map((p) => [p.x, p.y]), [[100, 0.4], [200, 0.2], [300, 0.4 / 3]]);
  assert.deepEqual(run.testLossByStep.map((p) => p.x), [100, 200, 300]);
  assert.equal(run.trainAccuracy.length, 12);
  assert.deepEqual(run.decaySteps, [150, 250]);
  assert.deepEqual(run.learningRate.map((p) => p.x), [0, 150, 250, 300]);
  // stage 0 at the end of epoch 3: busy 9 s of which 0.75 s waiting for a core, wait 1.5 s
  assert.ok(Math.abs(run.utilisation[0].utilisation! - (9 - 0.75) / (9 + 1.5)) < 1e-12, String(run.utilisation[0].utilisation));
  assert.equal(run.utilisation[0].runQueueSeconds, 0.75);
  assert.equal(utilisation(2, 2, null), 0.5, 'no run-queue figure (not Linux): busy counts as work');
  // gradient probes: stages 0 and 1 against step (the last stage has none), and their means
  assert.deepEqual(run.probes.map((s) => [s.stage, s.cosine.map((p) => p.x)]), [[0, [100, 200, 300]], [1, [100, 200, 300]]]);
  assert.deepEqual(run.probes[1].cosine.map((p) => p.y), [0.61, 0.62, 0.63]);
  const means = meanProbeCosines(readRun(runA));
  assert.ok(Math.abs(means[0]! - 0.52) < 1e-12 && Math.abs(means[1]! - 0.62) < 1e-12 && means[2] === null, String(means));
  assert.deepEqual(meanProbeCosines(readRun(runB)), []);
});

test('ReportError names the path: missing directory, no metrics.jsonl, a broken line, no run', () => {
  const missing = join(root, 'does-not-exist');
  assert.throws(() => writeReport([runA, missing]), (e: unknown) => e instanceof ReportError && e.message.includes(missing) && /no such directory/.test(e.message));
  const empty = join(root, 'empty');
  mkdirSync(empty);
  assert.throws(() => writeReport([empty]), (e: unknown) => e instanceof ReportError && e.message.includes(empty) && /metrics\.jsonl/.test(e.message));
  const broken = writeRun(join(root, 'broken'), { id: 'broken', preset: 'x', mode: 'cdni', stages: 2, epochs: 1, summary: false });
  const metrics = join(broken, 'metrics.jsonl');
  writeFileSync(metrics, 'not json\n' + readFileSync(metrics, 'utf8'));
  assert.throws(() => readRun(broken), (e: unknown) => e instanceof ReportError && e.message.includes(`${metrics} line 1`));
  assert.throws(() => writeReport([]), ReportError);
});

testNeeding(missingFile(chromiumPath, 'chromium'), 'the page renders every chart in headless Chromium without errors or network requests', { timeout: 60_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const full = writeReport([runA, runB], join(root, 'two-runs.html'));
  const minimal = writeReport([runC], join(root, 'started.html'));
  const sweepPage = writeReport(sweep, join(root, 'sweep-page.html'));
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const [file, datasets] of [
      [full, { loss: 2, 'eval-loss': 4, 'train-accuracy': 2, 'accuracy-step': 4, 'accuracy-time': 4, 'learning-rate': 2, 'synth-loss': 2, 'synth-cosine': 2, 'true-cosine': 2, utilisation: 2 }],
      [minimal, { loss: 1, 'eval-loss': 2, 'train-accuracy': 1, 'accuracy-step': 2, 'accuracy-time': 2, 'learning-rate': 1, 'synth-loss': 0, 'synth-cosine': 0, 'true-cosine': 0, utilisation: 1 }],
      [sweepPage, { 'error-vs-p': 2, loss: 4, 'eval-loss': 8, 'train-accuracy': 4, 'accuracy-step': 8, 'accuracy-time': 8, 'learning-rate': 4, 'synth-loss': 12, 'synth-cosine': 12, 'true-cosine': 0, utilisation: 4 }],
    ] as const) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => {
        if (!/^(file|data|blob):/.test(r.url())) requests.push(r.url());
      });
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-charts-ready]', { timeout: 10_000 });
      const rendered = await page.evaluate(() => {
        const C = (window as unknown as { Chart: { instances: Record<string, unknown>; getChart(id: string): { data: { datasets: unknown[] } } | undefined } }).Chart;
        return {
          instances: Object.keys(C.instances).length,
          canvases: [...document.querySelectorAll('canvas')].map((c) => ({ id: c.id, width: c.width, height: c.height, shown: c.getBoundingClientRect().width * c.getBoundingClientRect().height })),
          datasets: Object.fromEntries([...document.querySelectorAll('canvas')].map((c) => [c.id, C.getChart(c.id)?.data.datasets.length ?? -1])),
          labels: ((C.getChart('loss')?.data.datasets ?? []) as { label: string }[]).map((d) => d.label),
          rate: ((C.getChart('learning-rate')?.data.datasets[0] as { data: { x: number; y: number }[]; stepped: unknown } | undefined) ?? null),
          differing: document.querySelectorAll('tr.differs').length,
        };
      });
      if (process.env.REPORT_SCREENSHOT && file === full) await page.screenshot({ path: process.env.REPORT_SCREENSHOT, fullPage: true });
      await page.close();
      assert.deepEqual(errors, [], `no console errors or page errors in ${file}`);
      assert.deepEqual(requests, [], 'nothing loaded from the network');
      const expected = Object.keys(datasets);
      assert.deepEqual(rendered.canvases.map((c) => c.id), expected, 'the charts, in order (error against p first, only in a sweep)');
      for (const c of rendered.canvases) assert.ok(c.width > 0 && c.height > 0 && c.shown > 0, `canvas ${c.id} has a size`);
      assert.equal(rendered.instances, expected.length, 'Chart.js registered every chart');
      assert.deepEqual(rendered.datasets, datasets);
      if (file === full) {
        assert.deepEqual(rendered.rate?.data, [{ x: 0, y: 1e-3 }, { x: 150, y: 1e-4 }, { x: 250, y: 1e-5 }, { x: 300, y: 1e-5 }], 'the learning rate steps down at each decay step');
        assert.equal(rendered.rate?.stepped, 'before', 'Chart.js "before": each rate is held until the next point');
        assert.ok(rendered.differing > 0, 'the config table marks the fields that differ');
      }
      if (file === sweepPage) assert.match(rendered.labels[0], /^cdni-p1: preset="mnist-fcn4-cdni", mode="cdni", train\.updateProbability=1$/);
    }
  } finally {
    await browser.close();
  }
});

test('CLI: synthgrad report writes --out and prints its path; a missing run directory exits 2 naming it', () => {
  const out = join(root, 'cli-report.html');
  let r = spawnSync(process.execPath, [cli, 'report', runA, runB, '--out', out], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), out);
  assert.ok(existsSync(out));
  const missing = join(root, 'no-such-run');
  r = spawnSync(process.execPath, [cli, 'report', runA, missing], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2);
  assert.ok(r.stderr.includes(missing), r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
});
