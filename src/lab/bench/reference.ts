import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../config/errors.js';
import { stageGrouping } from '../../stage/stage-spec.js';
import type { ReferenceSetting } from './reference-settings.js';

/**
 * The PyTorch reference of `synthgrad bench --reference`: scripts/torch-reference.py trains the
 * same model the same way (layers, BatchNorm, batch, Adam, zero-initialised synthesizers) in one
 * Python process on `threads` threads and prints its samples/s. PyTorch is not a dependency of
 * synthgrad: the bench looks for a python that has it.
 */

/** The script, beside dist/ in a checkout and in the package (package.json "files"). */
export const REFERENCE_SCRIPT = fileURLToPath(new URL('../../../../scripts/torch-reference.py', import.meta.url));

/** Pythons tried in order when none is named: Debian's own first (python3-torch installs there), then the PATH's. */
export const DEFAULT_PYTHONS = ['/usr/bin/python3', 'python3'];

export const HOW_TO_GET_TORCH =
  'install PyTorch with `apt-get install python3-torch libopenblas0-pthread` (Debian; OpenBLAS: without it torch uses the far slower reference BLAS), or name a python that has torch with --python';

/** What a python gave when asked for torch: its version, or why not. */
export type TorchProbe = { python: string; version: string } | { python: string; error: string };

/** Asks `python` for torch's version (synchronous: a second at most). */
export function probeTorch(python: string): TorchProbe {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return { python, error: r.error.message };
  if (r.status !== 0) return { python, error: (r.stderr.trim().split('\n').pop() ?? '').trim() || `exit ${r.status}` };
  return { python, version: r.stdout.trim() };
}

/**
 * The first python that has torch: `explicit` alone when given, else DEFAULT_PYTHONS. Throws a
 * ConfigError naming what each python said and how to get PyTorch.
 */
export function findTorchPython(explicit?: string, probe: (python: string) => TorchProbe = probeTorch): { python: string; version: string } {
  const tried: string[] = [];
  for (const python of explicit ? [explicit] : DEFAULT_PYTHONS) {
    const p = probe(python);
    if ('version' in p) return p;
    tried.push(`${python}: ${p.error}`);
  }
  throw new ConfigError('--reference', [`no python with PyTorch (tried ${tried.join('; ')})`, HOW_TO_GET_TORCH]);
}

/** What the script reads on stdin. */
export interface ReferenceRequest {
  model: Config['model'];
  stages: number[][];
  mode: 'backprop' | 'cdni' | 'dni';
  synthesizer: Config['synthesizer'];
  optimizer: Pick<Config['optimizer'], 'learningRate' | 'beta1' | 'beta2' | 'epsilon'>;
  batchSize: number;
  steps: number;
  warmup: number;
  threads: number;
  /** OpenBLAS's threads and OpenMP's waits ('default': unset); without, the script's choice for the kind of model. */
  blasThreads?: number;
  ompWaitPolicy?: ReferenceSetting['ompWait'];
  seed: number;
}

/** The request for a run of `config` (its model, stages, synthesizer, optimizer and batch) in `mode`. */
export function referenceRequest(config: Config, mode: ReferenceRequest['mode'], run: { steps: number; warmup: number; threads: number }, setting?: ReferenceSetting): ReferenceRequest {
  const { learningRate, beta1, beta2, epsilon } = config.optimizer;
  return {
    model: config.model,
    stages: stageGrouping(config),
    mode,
    synthesizer: config.synthesizer,
    optimizer: { learningRate, beta1, beta2, epsilon },
    batchSize: config.train.batchSize,
    steps: run.steps,
    warmup: run.warmup,
    threads: setting?.threads ?? run.threads,
    ...(setting && { blasThreads: setting.blasThreads, ompWaitPolicy: setting.ompWait }),
    // torch wants a number: a string seed (the config allows one) is hashed to one
    seed: typeof config.train.seed === "number" ? config.train.seed : [...config.train.seed].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) % 2 ** 31, 7),
  };
}

const outputSchema = z.object({
  format: z.literal('synthgrad-torch-reference/1'),
  torch: z.string(),
  threads: z.number().int().positive(),
  mode: z.string(),
  steps: z.number().int().positive(),
  warmup: z.number().int().nonnegative(),
  batchSize: z.number().int().positive(),
  samplesPerSecond: z.number().positive(),
  wallSeconds: z.number().nonnegative(),
  cpuSeconds: z.number().nonnegative(),
  blas: z.array(z.string()),
  /** OMP_WAIT_POLICY and OPENBLAS_NUM_THREADS as the run had them ("unset": the library's default). */
  environment: z.record(z.string(), z.string()),
});

/** One reference run, as the script reported it. */
export type ReferenceOutput = z.infer<typeof outputSchema>;

/** The script's report: its last stdout line, checked; an Error naming what was wrong. */
export function parseReferenceOutput(stdout: string): ReferenceOutput {
  const line = stdout.trim().split('\n').pop() ?? '';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`torch reference: expected a JSON line on stdout, got ${JSON.stringify(line.slice(0, 200))}`);
  }
  const parsed = outputSchema.safeParse(value);
  if (!parsed.success) {
    throw new Error(`torch reference: unexpected report (${parsed.error.issues.map((i) => `${i.path.join('.') || 'report'}: ${i.message}`).join('; ')})`);
  }
  return parsed.data;
}

/** Runs the script with `python` on `request`; resolves with its report, rejects with its stderr. */
export function runReference(python: string, request: ReferenceRequest, script = REFERENCE_SCRIPT): Promise<ReferenceOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`torch reference (${python} ${script}) exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(parseReferenceOutput(stdout));
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.end(JSON.stringify(request));
  });
}
