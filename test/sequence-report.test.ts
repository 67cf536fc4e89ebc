import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveSequenceConfig } from '../src/sequence/config.js';
import { runSequence } from '../src/sequence/run.js';
import { ReportError, readSequenceRun, writeReport } from '../src/lab/report/index.js';
import { sequenceChartData } from '../src/lab/report/sequence-chart-data.js';
import { missingFile, testNeeding } from './helpers/needs.js';

const chromiumPath = '/usr/bin/chromium';
const chartIds = ['seq-loss-step', 'seq-loss-time', 'seq-curriculum', 'seq-synth-loss', 'seq-synth-cosine'];
let root = '';
let copy = '';
let deep = '';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'seq-report-'));
  const text = join(root, 'text.txt');
  writeFileSync(text, 'the quick brown fox jumps over the lazy dog, and the dog sleeps on. '.repeat(60));
  copy = join(root, 'copy');
  deep = join(root, 'deep');
  const small = { units: 8, batch: 4, maxSteps: 12, logEvery: 3, synthesizer: { hiddenLayers: [8] } };
  await runSequence(resolveSequenceConfig('copy-dni', { ...small, copy: { bits: 2, threshold: 10 } }), 'copy-dni', copy);
  await runSequence(resolveSequenceConfig('charlm3-dni', { ...small, window: 3, charLm: { data: text, evalChars: 0 } }), 'charlm3-dni', deep);
});

after(() => rmSync(root, { recursive: true, force: true }));

test('a sequence run is read from its metrics lines: loss or bits per character, the curriculum, the time synthesizer per layer', () => {
  const c = readSequenceRun(copy);
  assert.equal(c.config.task, 'copy');
  assert.equal(c.points.length, 4);
  assert.ok(c.points.every((p) => p.length !== null && p.solved !== null && p.synthesizerCosine !== null && p.trainBpc === null));
  const d = readSequenceRun(deep);
  assert.equal(d.config.layers, 3);
  assert.ok(d.summary && d.summary.testBpc !== null);
  assert.ok(d.points.every((p) => p.trainBpc !== null && p.layerSynthesizerLoss?.length === 3));
  const data = sequenceChartData([c, d]);
  const [copyRun, deepRun] = data.runs;
  assert.equal(copyRun.length.length, 4, 'the copy run has a curriculum');
  assert.equal(deepRun.length.length, 0, 'char-lm has none');
  assert.match(data.notes['seq-curriculum'], /No curriculum/);
  assert.deepEqual(copyRun.synthesizers.map((s) => s.layer), [0]);
  assert.deepEqual(deepRun.synthesizers.map((s) => s.layer), [0, 1, 2], 'one line per layer of the deep run');
  assert.deepEqual(deepRun.lossByStep.map((p) => p.x), [3, 6, 9, 12]);
  assert.equal(deepRun.lossByTime.length, 4);
});

test('the report page of sequence runs holds their charts; a sequence run and a feed-forward one are not drawn together', () => {
  const file = writeReport([copy, deep], join(root, 'both.html'));
  const html = readFileSync(file, 'utf8');
  for (const id of chartIds) assert.ok(html.includes(`<canvas id="${id}"`), `chart ${id}`);
  assert.ok(!html.includes('<canvas id="utilisation"'), 'no feed-forward chart');
  assert.match(html, /Time synthesizer cosine/);
  assert.match(html, /test bpc/);
  const own = writeReport([deep]);
  assert.equal(own, join(deep, 'report.html'));
  // a feed-forward run directory: config.json without kind, and metrics.jsonl
  const feedForward = join(root, 'ff');
  mkdirSync(feedForward);
  writeFileSync(join(feedForward, 'config.json'), JSON.stringify({ runId: 'ff', config: { mode: 'dni' } }));
  writeFileSync(join(feedForward, 'metrics.jsonl'), '');
  assert.throws(() => writeReport([deep, feedForward], join(root, 'mixed.html')), (e: unknown) => e instanceof ReportError && /is a feed-forward run and .* a sequence run: draw them in separate reports/.test((e as Error).message));
});

testNeeding(missingFile(chromiumPath, 'chromium'), 'the sequence page renders every chart in headless Chromium without errors', { timeout: 60_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const file = writeReport([copy, deep], join(root, 'render.html'));
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('body[data-charts-ready]', { timeout: 10_000 });
    const datasets = await page.evaluate(() => {
      const C = (window as unknown as { Chart: { getChart(id: string): { data: { datasets: unknown[] } } | undefined } }).Chart;
      return Object.fromEntries([...document.querySelectorAll('canvas')].map((c) => [c.id, C.getChart(c.id)?.data.datasets.length ?? -1]));
    });
    assert.deepEqual(errors, []);
    // loss: one line per run; curriculum: current and solved of the copy run; synthesizer: 1 (copy) + 3 (deep layers)
    assert.deepEqual(datasets, { 'seq-loss-step': 2, 'seq-loss-time': 2, 'seq-curriculum': 2, 'seq-synth-loss': 4, 'seq-synth-cosine': 4 });
  } finally {
    await browser.close();
  }
});
