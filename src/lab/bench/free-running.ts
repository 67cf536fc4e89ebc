/**
 * The two arrangements of stage-scaling, each stage driven on synthetic inputs by a StageDriver
 * (no messages between stages): every stage in this thread one after another, and one
 * free-running worker thread per stage, all released at once.
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { BackendName } from '../../config/schema.js';
import type { StageSpec } from '../../stage/stage-spec.js';
import { settledThreadCpu, type ThreadCpu } from '../../runtime/thread-cpu.js';
import { startLoadMeter } from './load.js';
import { StageDriver } from './stage-driver.js';
import type { FreeRunningRun, OneThreadRun, StageCpu } from './scaling-figures.js';

export interface DriveOptions {
  batchSize: number;
  seed: string | number;
  /** Untimed steps first. */
  warmup: number;
  /** Timed steps. */
  steps: number;
}

/** What a free-running stage worker gets: its stage, the drive, and the start flag it waits on. */
export interface FreeStageTask extends DriveOptions {
  spec: StageSpec;
  backend: BackendName;
  /** Int32 flag: 0 until the stages are released. */
  start: SharedArrayBuffer;
}

/** From a stage worker: built and warmed up, or done with its timed steps. */
export type FreeStageMessage = { kind: 'ready' } | { kind: 'done'; cpu: StageCpu; endNs: bigint };

const workerFile = new URL('./free-stage-worker.js', import.meta.url);

/** This thread's CPU times, up to date (settledThreadCpu: it sleeps 1 ms first); fails off Linux. */
export function cpuNow(): ThreadCpu {
  const cpu = settledThreadCpu();
  if (!cpu) throw new Error('stage-scaling needs /proc/thread-self/schedstat (Linux) for per-thread CPU times');
  return cpu;
}

/** Milliseconds between two readings. */
export function cpuBetween(before: ThreadCpu, after: ThreadCpu): StageCpu {
  return { cpuMs: (after.cpuSeconds - before.cpuSeconds) * 1000, runQueueMs: (after.runQueueSeconds - before.runQueueSeconds) * 1000 };
}

/**
 * Every stage in this thread (its backend already selected): stage 0, 1, ..., then the next step.
 * The thread's CPU time over the timed steps is shared out between the stages in proportion to
 * the wall-clock time of their steps (its schedstat cannot be read per step: see cpuNow).
 */
export async function runOneThread(specs: readonly StageSpec[], drive: DriveOptions): Promise<OneThreadRun> {
  const drivers = specs.map((spec) => new StageDriver(spec, drive.batchSize, drive.seed));
  try {
    for (let i = 0; i < drive.warmup; i++) for (const driver of drivers) await driver.step();
    const wall = specs.map(() => 0);
    const before = cpuNow();
    const load = startLoadMeter();
    const t0 = performance.now();
    for (let i = 0; i < drive.steps; i++) {
      for (const [s, driver] of drivers.entries()) {
        const t = performance.now();
        await driver.step();
        wall[s] += performance.now() - t;
      }
    }
    const wallMs = performance.now() - t0;
    const othersLoadCores = load().othersLoadCores;
    const spent = cpuBetween(before, cpuNow());
    const total = wall.reduce((a, b) => a + b, 0);
    const stages = wall.map((w) => ({ cpuMs: (spent.cpuMs * w) / total, runQueueMs: (spent.runQueueMs * w) / total }));
    return { wallMs, stages, othersLoadCores };
  } finally {
    for (const driver of drivers) driver.dispose();
  }
}

type Done = Extract<FreeStageMessage, { kind: 'done' }>;

/** A worker's two messages, as promises; both reject if it fails or exits first. */
function listen(worker: Worker): { ready: Promise<unknown>; done: Promise<Done> } {
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`a stage worker exited (code ${code}) before it was done`)));
  });
  const next = <M extends FreeStageMessage>(kind: M['kind']) =>
    Promise.race([new Promise<M>((resolve) => worker.on('message', (m: FreeStageMessage) => m.kind === kind && resolve(m as M))), failed]);
  const ready = next('ready');
  const done = next<Done>('done');
  done.catch(() => {}); // awaited after ready, where a failure shows first
  return { ready, done };
}

/**
 * One worker thread per stage, each building its stage and warming up, then all released at once
 * (an Atomics flag) to run their timed steps with no messages between them.
 */
export async function runFreeRunning(specs: readonly StageSpec[], backend: BackendName, drive: DriveOptions): Promise<FreeRunningRun> {
  const start = new SharedArrayBuffer(4);
  const flag = new Int32Array(start);
  const workers = specs.map((spec) => new Worker(workerFile, { workerData: { ...drive, spec, backend, start } satisfies FreeStageTask }));
  const release = () => (Atomics.store(flag, 0, 1), Atomics.notify(flag, 0));
  try {
    const messages = workers.map(listen);
    await Promise.all(messages.map((m) => m.ready));
    const load = startLoadMeter();
    const startNs = process.hrtime.bigint();
    release();
    const done = await Promise.all(messages.map((m) => m.done));
    return {
      stages: done.map((d) => ({ ...d.cpu, wallMs: Number(d.endNs - startNs) / 1e6 })),
      othersLoadCores: load().othersLoadCores,
    };
  } finally {
    release();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
