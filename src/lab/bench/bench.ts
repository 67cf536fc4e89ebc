import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { PROGRESS_EVERY, train } from '../../train.js';
import { loadDataset, type Mnist } from '../../data/index.js';
import { RunDir } from '../../metrics/run-dir.js';
import type { StageStats } from '../../stage/protocol.js';
import { aggregate, runRecord, speedups, type RunFigures, type RunRecord, type StageFigures, type WarmupMark } from './analysis.js';
import { benchConfig, scheduleAccepted, type BenchBase } from './configs.js';
import { startLoadMeter, totalLoad } from './load.js';
import { machineInfo } from './machine.js';
import { convTimer, measureCeiling, measureMatMulCeiling, useWasmBackend, type MatMulOptions } from './matmul-ceiling.js';
import { largestConvOf, stageWork } from './stage-work.js';
import { defaultConfigNames, interleave, parseConfigName, type BenchConfigName, type PlannedRun } from './plan.js';
import { trainSequential } from './sequential.js';
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../config/errors.js';
import type { BenchResult, MeasuredCeiling } from './result.js';
import { findTorchPython, referenceRequest, runReference, type ReferenceRequest } from './reference.js';
import { referenceName, referenceRatios, type ReferenceRun } from './reference-pairs.js';
import { referenceSettings, tuneReference, type ReferenceSetting, type SettingTrial } from './reference-settings.js';

export interface BenchOptions extends BenchBase {
  /** Training steps of every run (default 300). */
  steps?: number;
  /**
   * Steps of every run left out of its samples/s: while they run, every thread compiles its hot
   * code and the caches fill. Rounded up to a multiple of 10 (train reports its progress every 10
   * steps) and below `steps` (see warmupSteps for the default). 0 measures the whole run.
   */
  warmup?: number;
  /** Runs of every configuration (default 3), interleaved. */
  repetitions?: number;
  /** Overrides the base's batch size. */
  batchSize?: number;
  /** The bench directory (default runs/bench-<timestamp>); must be new or empty. */
  out?: string;
  /**
   * `mode/schedule` names; default backprop/lockstep, cdni/sequential, cdni/lockstep, cdni/async
   * (+ cdni/pipelined if the schema has it). `sequential`: every stage in this thread, one after another.
   */
  configs?: string[];
  /** Preloaded MNIST (otherwise loaded once from the base config's data). */
  data?: Mnist;
  /** Cores of the parallelism bound (default os.availableParallelism()). */
  cores?: number;
  matMul?: MatMulOptions;
  /**
   * Also run the PyTorch reference (scripts/torch-reference.py) of every mode benchmarked, as one
   * more configuration in the interleaved order, and pair every configuration with it.
   */
  reference?: {
    /** A python with torch (default: the first of DEFAULT_PYTHONS that has it). */
    python?: string;
    /** Threads of the reference (default: `cores`). */
    threads?: number;
    /**
     * Try the reference in every setting of referenceSettings once before the runs and run it in
     * the fastest (default true); false: the script's own choice for the kind of model.
     */
    tune?: boolean;
  };
  /** Called before each run starts and after it ends. */
  onRunStart?(run: PlannedRun<BenchPlanItem>, total: number): void;
  onRunEnd?(record: RunRecord, total: number): void;
  onReferenceEnd?(run: ReferenceRun, total: number): void;
  /** Called after each trial of a setting of the reference (see reference.tune). */
  onReferenceTrial?(mode: string, trial: SettingTrial): void;
}

/** A run of the bench's plan: a synthgrad configuration, or the PyTorch reference of a mode. */
export type BenchPlanItem = BenchConfigName | { name: string; reference: ReferenceRequest['mode'] };

/**
 * The warm-up steps of a bench of `steps` steps: `requested` rounded up to a multiple of 10, or by
 * default 100 steps, at most a third of the run (0 for runs under 30 steps). Refuses a warm-up
 * that leaves no step to measure.
 */
export function warmupSteps(steps: number, requested?: number): number {
  if (requested === undefined) return Math.min(100, Math.floor(steps / 3 / PROGRESS_EVERY) * PROGRESS_EVERY);
  const warmup = Math.ceil(requested / PROGRESS_EVERY) * PROGRESS_EVERY;
  if (!Number.isInteger(requested) || requested < 0 || warmup >= steps) {
    throw new ConfigError('--warmup', [
      `expected a whole number of steps that, rounded up to a multiple of ${PROGRESS_EVERY}, is below --steps (${steps}); got ${requested}`,
    ]);
  }
  return warmup;
}

export function defaultBenchDir(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return join('runs', `bench-${stamp}`);
}

/** The configurations to run: the given names (checked), or the defaults for this schema. */
export function benchConfigNames(base: BenchBase, names?: string[]): BenchConfigName[] {
  const list = names?.length ? names : defaultConfigNames(scheduleAccepted(base, 'pipelined'));
  const parsed = list.map(parseConfigName);
  return parsed.filter((c, i) => parsed.findIndex((d) => d.name === c.name) === i);
}

/**
 * One run: `sequential` in this thread (trainSequential), any other schedule with its stages in
 * worker threads (train). The stage times of the end of training, where they cover every step, and
 * the training time when `warmup` steps were done (train reports progress every 10 steps: the
 * first report at or after it).
 */
async function runOne(
  name: BenchConfigName,
  config: Config,
  data: Mnist,
  warmup: number,
): Promise<{ figures: RunFigures; training: { step: number; stages: StageFigures[] } | null; mark: WarmupMark | null }> {
  let mark: WarmupMark | null = null;
  const passed = (step: number, trainSeconds: number) => {
    if (!mark && step >= warmup) mark = { step, trainSeconds };
  };
  if (name.inThread) {
    const result = await trainSequential(config, { data, onStep: passed });
    return { figures: result, training: { step: result.steps, stages: result.perStage }, mark };
  }
  let training: { step: number; stages: StageStats[] } | null = null;
  const summary = await train(config, {
    data,
    onEpoch: (record) => (training = { step: record.step, stages: record.stages }),
    onProgress: (p) => p.phase === 'train' && passed(p.step, p.trainSeconds),
  });
  return { figures: summary, training, mark };
}

/**
 * Runs every configuration `repetitions` times for `steps` steps, interleaved, in this process
 * (stages in worker threads; `sequential`: in this thread), and writes bench.json (after every
 * run, so a stopped bench keeps its figures).
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const steps = options.steps ?? 300;
  const warmup = warmupSteps(steps, options.warmup);
  const repetitions = options.repetitions ?? 3;
  const base: BenchBase = { preset: options.preset, config: options.config };
  const names = benchConfigNames(base, options.configs);
  const configFor = (name: BenchConfigName, out: string) => benchConfig(base, name, { steps, batchSize: options.batchSize, out });
  // every config is checked before anything runs or is written
  const probe = names.map((name) => configFor(name, 'unused'))[0];
  const torch = options.reference ? findTorchPython(options.reference.python) : null;
  const dir = new RunDir(options.out ?? defaultBenchDir());
  const data = options.data ?? loadDataset(probe.data, { validationSize: probe.train.validationSize });
  const cores = options.cores ?? availableParallelism();
  // the PyTorch reference trains backprop, dni and cdni; the other gradient sources have none
  const referenceModes = torch ? [...new Set(names.map((n) => n.mode))].filter((m): m is ReferenceRequest['mode'] => m === 'backprop' || m === 'dni' || m === 'cdni') : [];
  const references: BenchPlanItem[] = referenceModes.map((mode) => ({ name: referenceName(mode), reference: mode }));
  const plan = interleave<BenchPlanItem>([...references, ...names], repetitions);

  await useWasmBackend();
  // what every stage computes per step, and the conv ceiling beside the stages with conv layers
  const work = Object.fromEntries(names.map((name) => [name.name, stageWork(configFor(name, 'unused'))]));
  const conv = largestConvOf(Object.values(work));
  const measureCeilings = async (when: 'before the runs' | 'after the runs') => {
    const matMulLoad = startLoadMeter();
    const matMul: MeasuredCeiling = { ...(await measureMatMulCeiling(options.matMul)), load: matMulLoad(), measured: when };
    if (!conv) return { matMul, conv: null };
    const convLoad = startLoadMeter();
    const measured = await measureCeiling(await convTimer(conv, probe.train.batchSize), options.matMul);
    return { matMul, conv: { ...measured, shape: conv, load: convLoad(), measured: when } };
  };
  const { matMul: matMulCeiling, conv: convCeiling } = await measureCeilings('before the runs');

  const result: BenchResult = {
    format: 'synthgrad-bench/1',
    createdAt: new Date().toISOString(),
    outDir: dir.path,
    settings: {
      preset: probe.preset ?? null,
      steps,
      warmup,
      repetitions,
      batchSize: probe.train.batchSize,
      configs: names.map((n) => n.name),
      order: plan.map((p) => `${p.config.name}#${p.repetition}`),
      cores,
    },
    machine: { ...machineInfo(), backend: 'unknown' },
    matMulCeiling,
    convCeiling,
    stageWork: work,
    runs: [],
    configs: [],
    speedups: [],
    load: totalLoad([]),
    ...(torch && { reference: { python: torch.python, tuning: [], runs: [], ratios: [] } }),
  };
  const update = () => {
    if (result.reference) result.reference.ratios = referenceRatios(result.runs, result.reference.runs);
    result.configs = aggregate(result.runs);
    result.speedups = speedups(result.configs);
    result.load = totalLoad(result.runs.map((r) => r.load));
    result.machine.backend = result.runs[0]?.backend ?? 'unknown';
    dir.writeJson('bench.json', result);
  };
  update();

  // the reference in the setting it ran fastest in on this machine (tried once each, before the runs)
  const referenceThreads = options.reference?.threads ?? cores;
  const chosen = new Map<string, ReferenceSetting>();
  if (torch && options.reference?.tune !== false) {
    for (const mode of referenceModes) {
      const tuning = await tuneReference(mode, referenceSettings(referenceThreads), async (setting) => {
        const out = await runReference(torch.python, referenceRequest(probe, mode, { steps, warmup, threads: referenceThreads }, setting));
        options.onReferenceTrial?.(mode, { setting, samplesPerSecond: out.samplesPerSecond });
        return out.samplesPerSecond;
      });
      chosen.set(mode, tuning.chosen);
      result.reference!.tuning.push(tuning);
      update();
    }
  }

  for (const planned of plan) {
    const { config: name, repetition, index } = planned;
    options.onRunStart?.(planned, plan.length);
    if ('reference' in name) {
      const request = referenceRequest(probe, name.reference, { steps, warmup, threads: referenceThreads }, chosen.get(name.reference));
      const stop = startLoadMeter();
      const out = await runReference(torch!.python, request);
      const load = stop();
      const others = load.othersCpuSeconds === null ? null : load.othersCpuSeconds - out.cpuSeconds;
      const run: ReferenceRun = {
        config: name.name,
        mode: name.reference,
        repetition,
        index,
        samplesPerSecond: out.samplesPerSecond,
        wallSeconds: out.wallSeconds,
        torch: out.torch,
        threads: out.threads,
        blas: out.blas,
        environment: out.environment,
        load: { ...load, othersCpuSeconds: others, othersLoadCores: others === null || load.wallSeconds <= 0 ? null : others / load.wallSeconds },
      };
      result.reference!.runs.push(run);
      update();
      options.onReferenceEnd?.(run, plan.length);
      continue;
    }
    const config = configFor(name, join(dir.path, 'runs', `${name.mode}-${name.schedule}-r${repetition}`));
    const stop = startLoadMeter();
    const run = await runOne(name, config, data, warmup);
    const record = runRecord(run.figures, { config: name.name, repetition, index, load: stop(), cores }, run.training, run.mark);
    result.runs.push(record);
    update();
    options.onRunEnd?.(record, plan.length);
  }
  const after = await measureCeilings('after the runs');
  result.matMulCeiling = faster(result.matMulCeiling, after.matMul);
  if (result.convCeiling && after.conv) result.convCeiling = faster(result.convCeiling, after.conv);
  update();
  return result;
}

/** Of two measurements of one ceiling, the faster, with the other as `slower`. */
export function faster<T extends MeasuredCeiling>(a: T, b: T): T {
  const [best, other] = b.gflops > a.gflops ? [b, a] : [a, b];
  const { slower: _, ...rest } = best;
  return { ...rest, slower: { gflops: other.gflops, medianMs: other.medianMs, measured: other.measured ?? 'before the runs', load: other.load } } as T;
}
