import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { decodeStageState } from '../stage/stage-state.js';
import { writing } from '../write-error.js';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { writeFileAtomic } from '../atomic-write.js';
import { PathError } from '../path-error.js';

/** The orchestrator's part of a checkpoint: where the run was and its running sums. */
export interface RunProgress {
  step: number;
  epoch: number;
  /** Batches of `epoch` already fed (the epoch's order is regenerated from the seed). */
  stepInEpoch: number;
  samples: number;
  trainMs: number;
  /** Wall time of the run up to this checkpoint, over every process that ran it (absent in older checkpoints). */
  wallMs?: number;
  epochLoss: number;
  epochCorrect: number;
  epochRows: number;
  recentLoss: number;
  recentCorrect: number;
  recentRows: number;
  recentSteps: number;
  val: { loss: number; accuracy: number } | null;
  test: { loss: number; accuracy: number } | null;
  restarts: number;
  lostSteps: number;
}

export interface Manifest {
  format: 'synthgrad-checkpoint/1';
  createdAt: string;
  configHash: string;
  progress: RunProgress;
  /** Stage files, relative to the checkpoint folder; all written for `progress.step`. */
  stages: { stage: number; file: string; step: number; bytes: number }[];
}

/** A checkpoint folder that cannot be used. */
export class CheckpointError extends PathError {}

/** What a config trains: all of it but where the run is stored, where the data is read from, and where stages run. */
export function trainingConfig(config: Config): Omit<Config, 'out' | 'data' | 'placement'> {
  const { out: _out, data: _data, placement: _placement, ...training } = config;
  return training;
}

/** Identifies the training config a checkpoint belongs to (see trainingConfig). */
export function configHash(config: Config): string {
  return createHash('sha256').update(JSON.stringify(trainingConfig(config))).digest('hex').slice(0, 16);
}

export function checkpointDir(runDir: string): string {
  return join(runDir, 'checkpoint');
}

/** Files the stages should write for a checkpoint at `step` (the folder is created). */
export function stageFiles(runDir: string, step: number, stages: number): { folder: string; files: string[] } {
  const folder = `step-${String(step).padStart(8, '0')}`;
  const path = join(checkpointDir(runDir), folder);
  writing(path, () => {
    mkdirSync(checkpointDir(runDir), { recursive: true });
    if (!existsSync(path)) mkdirSync(path); // not recursive: node reports a read-only file system as ENOENT then
  });
  return { folder, files: Array.from({ length: stages }, (_, s) => join(path, `stage-${s}.msgpack`)) };
}

/**
 * Makes the checkpoint visible: the manifest is written atomically after every stage file, so a
 * reader sees the previous complete checkpoint or this one, never a mix. Keeps the previous one too.
 */
export function commitCheckpoint(runDir: string, folder: string, manifest: Manifest): void {
  const dir = checkpointDir(runDir);
  const previous = readManifestIfAny(runDir);
  writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  const keep = new Set([folder, previous && folderOf(previous)]);
  for (const entry of readdirSync(dir)) {
    try {
      if (entry.startsWith('step-') && !keep.has(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
    } catch {
      // an old folder that cannot be removed (a read-only disk) takes space but no checkpoint
    }
  }
}

function folderOf(manifest: Manifest): string {
  return manifest.stages[0].file.split('/')[0];
}

function readManifestIfAny(runDir: string): Manifest | null {
  const path = join(checkpointDir(runDir), 'manifest.json');
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

/**
 * A stage file is checked before a run starts from it (its size against the manifest's, then its
 * contents), so a damaged one is refused up front instead of failing its stage at start.
 */
function checkStageFile(file: string, bytes: number): void {
  const size = statSync(file).size;
  if (typeof bytes === 'number' && size !== bytes) throw new CheckpointError(file, `is ${size} bytes, the manifest says ${bytes}: damaged or truncated`);
  try {
    decodeStageState(readFileSync(file), file);
  } catch (error) {
    throw new CheckpointError(file, (error as Error).message.replace(`${file}: `, ''));
  }
}

/** The last complete checkpoint of a run, checked against the config; stage file paths made absolute. */
export function readCheckpoint(runDir: string, config: Config, stages: number): { manifest: Manifest; files: string[] } {
  const path = join(checkpointDir(runDir), 'manifest.json');
  if (!existsSync(path)) {
    throw new CheckpointError(runDir, 'has no complete checkpoint (checkpoint/manifest.json is missing): the run stopped before its first checkpoint');
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch (error) {
    throw new CheckpointError(path, `not valid JSON: ${(error as Error).message}`);
  }
  if (manifest?.format !== 'synthgrad-checkpoint/1' || !Array.isArray(manifest.stages)) {
    throw new CheckpointError(path, 'not a synthgrad checkpoint manifest');
  }
  if (manifest.configHash !== configHash(config)) {
    throw new CheckpointError(path, `was written for another config (hash ${manifest.configHash}, config.json gives ${configHash(config)})`);
  }
  if (manifest.stages.length !== stages) {
    throw new CheckpointError(path, `has ${manifest.stages.length} stage files, the config has ${stages} stages`);
  }
  const files = manifest.stages.map((entry, s) => {
    const file = join(checkpointDir(runDir), entry.file);
    if (entry.stage !== s || entry.step !== manifest.progress.step) {
      throw new CheckpointError(path, `stage entry ${s} is for stage ${entry.stage} at step ${entry.step}, expected step ${manifest.progress.step}`);
    }
    if (!existsSync(file)) throw new CheckpointError(file, 'is missing');
    checkStageFile(file, entry.bytes);
    return file;
  });
  return { manifest, files };
}
