import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { RunDir, newRunId } from '../metrics/run-dir.js';
import { PathError } from '../path-error.js';
import { parseSequenceConfig, type SequenceConfig } from './config.js';
import type { SequenceCheckpoint, SequenceRecord, SequenceResult, SequenceWorkerData, SequenceWorkerMessage } from './protocol.js';
import { driveDeep } from './deep-run.js';

/** summary.json of a sequence run. */
export interface SequenceSummary extends SequenceResult {
  runId: string;
  outDir: string;
  kind: 'sequence';
  preset: string | null;
  task: SequenceConfig['task'];
  mode: SequenceConfig['mode'];
  window: number;
  /** LSTM layers (more than one: one stage each, with how they ran). */
  layers: number;
  deep: Pick<SequenceConfig, 'depth' | 'schedule' | 'transport'> | null;
  timeSteps: number;
  /** Copy tasks: the largest length solved (the curriculum's figure of merit). */
  solved: number | null;
  /** The last metrics line. */
  last: SequenceRecord | null;
  wallSeconds: number;
}

export interface SequenceRunOptions {
  /** Stops the run after its current window (then checkpoints). */
  signal?: AbortSignal;
  onRecord?: (record: SequenceRecord) => void;
  /** Tests: stop as if signalled once this many windows are trained. */
  stopAfter?: number;
}

const CHECKPOINT = 'checkpoint.json';

/** A new sequence run in `out` (default runs/<run id>). */
export function runSequence(config: SequenceConfig, preset: string | null, out: string | undefined, options: SequenceRunOptions = {}): Promise<SequenceSummary> {
  const runId = newRunId(preset ?? `${config.task}-${config.mode.replace('+', '-')}`);
  const dir = new RunDir(out ?? join('runs', runId));
  dir.writeJson('config.json', { kind: 'sequence', preset, runId, config });
  if (config.layers > 1) return deep(dir, runId, config, preset, false, options);
  return drive(dir, runId, config, preset, null, options);
}

/** Continues a stopped sequence run from its checkpoint, with its own config. */
export function resumeSequence(path: string, options: SequenceRunOptions = {}): Promise<SequenceSummary> {
  const { dir, saved, config } = readSequenceConfig(path);
  if (config.layers > 1) return deep(dir, saved.runId, config, saved.preset, true, options);
  const checkpoint = readSequenceCheckpoint(dir.path);
  dir.truncateMetrics(checkpoint.step);
  return drive(dir, saved.runId, config, saved.preset, checkpoint.checkpoint, options);
}

/** A sequence run directory's config.json, checked. */
export function readSequenceConfig(path: string): { dir: RunDir; saved: { preset: string | null; runId: string }; config: SequenceConfig } {
  const dir = RunDir.existing(path);
  const saved = JSON.parse(readFileSync(join(dir.path, 'config.json'), 'utf8')) as { kind?: string; preset: string | null; runId: string; config: unknown };
  if (saved.kind !== 'sequence') throw new PathError(dir.path, 'is not a sequence run (use synthgrad train --resume)');
  return { dir, saved, config: parseSequenceConfig(saved.config, join(dir.path, 'config.json')) };
}

/** A one-layer sequence run's checkpoint.json (written at its end, on SIGINT and every --checkpoint-every windows). */
export function readSequenceCheckpoint(dirPath: string): { step: number; checkpoint: SequenceCheckpoint } {
  const file = join(dirPath, CHECKPOINT);
  if (!existsSync(file)) throw new PathError(file, 'does not exist: the run stopped before its first checkpoint; start it again');
  return JSON.parse(readFileSync(file, 'utf8')) as { step: number; checkpoint: SequenceCheckpoint };
}

/** The summary of a finished or stopped run. */
function summarize(dir: RunDir, runId: string, config: SequenceConfig, preset: string | null, result: SequenceResult, last: SequenceRecord | null, wallSeconds: number): SequenceSummary {
  const summary: SequenceSummary = {
    runId,
    outDir: dir.path,
    kind: 'sequence',
    preset,
    task: config.task,
    mode: config.mode,
    window: config.window,
    layers: config.layers,
    deep: config.layers > 1 ? { depth: config.depth, schedule: config.schedule, transport: config.transport } : null,
    timeSteps: result.steps * config.window,
    solved: config.task === 'char-lm' ? null : (result.figures.solved ?? 0),
    ...result,
    last,
    wallSeconds,
  };
  dir.writeJson('summary.json', summary);
  return summary;
}

/** Several layers: one stage each, through the pipeline (deep-run.ts). */
async function deep(dir: RunDir, runId: string, config: SequenceConfig, preset: string | null, resume: boolean, options: SequenceRunOptions): Promise<SequenceSummary> {
  const { last, wallSeconds, ...result } = await driveDeep(dir, runId, config, resume, options);
  return summarize(dir, runId, config, preset, result, last, wallSeconds);
}

function drive(dir: RunDir, runId: string, config: SequenceConfig, preset: string | null, checkpoint: SequenceCheckpoint | null, options: SequenceRunOptions): Promise<SequenceSummary> {
  const started = performance.now();
  const stop = new SharedArrayBuffer(4);
  const data: SequenceWorkerData = { config, checkpoint, stop, stopAfter: options.stopAfter ?? null };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
  const onAbort = () => Atomics.store(new Int32Array(stop), 0, 1);
  options.signal?.addEventListener('abort', onAbort);
  if (options.signal?.aborted) onAbort();
  let last: SequenceRecord | null = null;
  return new Promise<SequenceSummary>((resolve, reject) => {
    let result: SequenceResult | null = null;
    worker.on('message', (message: SequenceWorkerMessage) => {
      if (message.type === 'record') {
        last = message.record;
        dir.metric({ ...message.record });
        options.onRecord?.(message.record);
      } else if (message.type === 'checkpoint') {
        dir.writeJson(CHECKPOINT, { step: message.step, checkpoint: message.checkpoint }, true);
      } else {
        result = message.result;
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (!result) return reject(new Error(`the sequence worker exited (code ${code}) before it finished`));
      resolve(summarize(dir, runId, config, preset, result, last, (performance.now() - started) / 1000));
    });
  });
}
