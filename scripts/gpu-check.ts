/**
 * What to run first on a new machine: the WebGPU adapters Dawn sees, the matMul ceiling on each
 * backend that starts here, a short mnist-cdni and mnist-cnn-cdni training on each, and the webgpu
 * transparency tests; one table at the end. No network.
 *
 *   node dist/scripts/gpu-check.js [--steps 300] [--cnn-steps 60] [--backends webgpu,wasm] [--eval-images 2000] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runProgram } from '../src/cli/exit.js';
import { positiveInt } from '../src/cli/flags.js';
import { selectBackend } from '../src/runtime/backend.js';
import { describeAdapter, listAdapters, startWebGpu, type AdapterInfo } from '../src/runtime/webgpu.js';
import { measureMatMulCeiling } from '../src/lab/bench/matmul-ceiling.js';
import { resolveConfig } from '../src/config/resolve.js';
import { loadDataset, type Dataset } from '../src/data/index.js';
import { train } from '../src/train.js';
import { silentLogger } from '../src/log.js';
import type { Summary } from '../src/run/summary.js';
import type { BackendName } from '../src/runtime/backend-names.js';

interface Flags {
  steps: number;
  cnnSteps: number;
  backends: BackendName[];
  evalImages: number;
  json?: string;
}

/** One training's figures: training samples/s, and the share of the stages' busy time spent waiting for reads. */
interface TrainingCheck {
  preset: string;
  steps: number;
  samplesPerSecond: number | null;
  readShare: number | null;
  error?: string;
}

interface BackendCheck {
  backend: BackendName;
  started: string | null;
  adapter: AdapterInfo | null;
  gflops: number | null;
  trainings: TrainingCheck[];
  error?: string;
}

const CHECKS = (flags: Flags) => [
  { preset: 'mnist-cdni', steps: flags.steps },
  { preset: 'mnist-cnn-cdni', steps: flags.cnnSteps },
];

/** The first `n` examples of a split: evaluation is not what is checked. */
function firstOf(split: Dataset['test'], n: number): Dataset['test'] {
  const count = Math.min(n, split.count);
  const size = split.rows * split.cols * (split.channels ?? 1);
  return { ...split, count, images: split.images.subarray(0, count * size), labels: split.labels.subarray(0, count) };
}

async function trainOn(backend: BackendName, preset: string, steps: number, data: Dataset): Promise<TrainingCheck> {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-gpu-check-'));
  try {
    const config = resolveConfig({ preset, overrides: { backend, train: { maxSteps: steps }, out: join(dir, 'run') } });
    const summary: Summary = await train(config, { logger: silentLogger, data });
    const busy = summary.perStage.reduce((a, s) => a + s.busySeconds, 0);
    const read = summary.perStage.reduce((a, s) => a + (s.readSeconds ?? 0), 0);
    return { preset, steps: summary.steps, samplesPerSecond: summary.trainSamplesPerSecond, readShare: busy > 0 ? read / busy : null };
  } catch (error) {
    return { preset, steps, samplesPerSecond: null, readShare: null, error: String((error as Error).message).split('\n')[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The webgpu transparency tests (MLP and CNN against single-process cpu autodiff), in a process of their own. */
function transparency(): { holds: boolean; detail: string } {
  const file = fileURLToPath(new URL('../test/webgpu-transparency.test.js', import.meta.url));
  // a test run of its own even when gpu-check itself runs under node --test
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], { encoding: 'utf8', env });
  const counts = ['pass', 'fail'].map((k) => new RegExp(`^# ${k} (\\d+)`, 'm').exec(r.stdout ?? '')?.[1] ?? '?');
  return { holds: r.status === 0, detail: `${counts[0]} passed, ${counts[1]} failed` };
}

const percent = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
const rate = (t: TrainingCheck) => (t.samplesPerSecond === null ? 'failed' : t.samplesPerSecond.toFixed(0));

async function gpuCheck(flags: Flags): Promise<void> {
  const log = (line: string) => process.stderr.write(`gpu-check: ${line}\n`);
  log('adapters');
  const adapters = await startWebGpu().then(
    () => listAdapters(),
    (error: unknown) => {
      log(`WebGPU: ${(error as Error).message}`);
      return [] as AdapterInfo[];
    },
  );
  const full = loadDataset(undefined);
  const data = { ...full, validation: firstOf(full.validation, flags.evalImages), test: firstOf(full.test, flags.evalImages) };
  const results: BackendCheck[] = [];
  for (const backend of flags.backends) {
    log(`${backend}: matMul ceiling`);
    const result: BackendCheck = { backend, started: null, adapter: null, gflops: null, trainings: [] };
    try {
      const choice = await selectBackend(backend);
      result.started = choice.name;
      result.adapter = choice.adapter;
      result.gflops = (await measureMatMulCeiling()).gflops;
    } catch (error) {
      result.error = String((error as Error).message).split('\n')[0];
      results.push(result);
      continue;
    }
    for (const check of CHECKS(flags)) {
      log(`${backend}: ${check.preset}, ${check.steps} steps`);
      result.trainings.push(await trainOn(backend, check.preset, check.steps, data));
    }
    results.push(result);
  }
  const webgpuRan = results.some((r) => r.started === 'webgpu');
  log('webgpu transparency tests');
  const check = webgpuRan ? transparency() : null;

  const lines = ['', `WebGPU adapters (${adapters.length}):`, ...(adapters.length ? adapters.map((a) => `  ${describeAdapter(a)}`) : ['  none'])];
  lines.push('', 'backend  matMul GFLOP/s  ' + CHECKS(flags).map((c) => `${c.preset} (${c.steps} steps) samples/s, read share`.padEnd(48) + '  ').join('') + 'adapter');
  for (const r of results) {
    if (r.error) {
      lines.push(`${r.backend.padEnd(8)} did not start: ${r.error}`);
      continue;
    }
    const cells = r.trainings.map((t) => `${rate(t).padStart(8)}  ${percent(t.readShare).padStart(7)}${t.error ? ` (${t.error})` : ''}`.padEnd(48) + '  ');
    lines.push(`${r.backend.padEnd(8)} ${(r.gflops?.toFixed(1) ?? '-').padStart(14)}  ${cells.join('')}${r.adapter ? describeAdapter(r.adapter) : '-'}`);
  }
  lines.push('', `webgpu transparency (backprop through webgpu stages = single-process cpu autodiff, MLP and CNN): ${check ? `${check.holds ? 'holds' : 'DOES NOT HOLD'} (${check.detail})` : 'not run (webgpu did not start)'}`);
  lines.push('read share: of the stages\' busy time, the part spent waiting for tensors read to the CPU (summary.json readSeconds / busySeconds)');
  process.stdout.write(lines.join('\n') + '\n');
  if (flags.json) writeFileSync(flags.json, JSON.stringify({ format: 'synthgrad-gpu-check/1', createdAt: new Date().toISOString(), settings: { ...flags, json: undefined }, adapters, results, transparency: check }, null, 2) + '\n');
  const failed = results.some((r) => r.error || r.trainings.some((t) => t.error)) || (check !== null && !check.holds);
  if (failed) throw new Error('a check failed: see the table');
}

const backendList = (value: string): BackendName[] => {
  const names = value.split(',').map((s) => s.trim());
  const known = ['webgpu', 'wasm', 'tensorflow', 'cpu'];
  for (const n of names) if (!known.includes(n)) throw new InvalidArgumentError(`unknown backend '${n}' (expected a comma-separated list of ${known.join(', ')})`);
  return names as BackendName[];
};

const program = new Command('gpu-check')
  .description('list the WebGPU adapters, the matMul ceiling per backend, short mnist-cdni and mnist-cnn-cdni trainings per backend, and the webgpu transparency tests')
  .option('--steps <n>', 'mnist-cdni training steps', positiveInt, 300)
  .option('--cnn-steps <n>', 'mnist-cnn-cdni training steps', positiveInt, 60)
  .addOption(new Option('--backends <list>', 'backends to check, comma-separated').argParser(backendList).default(['webgpu', 'wasm'] as BackendName[]))
  .option('--eval-images <n>', 'validation and test images of the end-of-run evaluation (not what is checked)', positiveInt, 2000)
  .option('--json <file>', 'also write the figures as JSON')
  .action(gpuCheck);

runProgram(program);
