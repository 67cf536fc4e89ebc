import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ReportError } from './errors.js';
import { isObject, metricsLines, num, obj, readJsonObject, runFiles, str, type Json } from './read-run.js';

/** One metrics.jsonl line of a sequence run (synthgrad sequence). */
export interface SequencePoint {
  step: number;
  /** Seconds since the run's first metrics line (null without a `time` field). */
  wallSeconds: number | null;
  /** Mean window loss over the logged interval (nats summed over the scored steps, mean over the streams). */
  loss: number | null;
  /** char-lm: training bits per character over the interval. */
  trainBpc: number | null;
  /** Copy tasks: the curriculum's current length and the largest length solved. */
  length: number | null;
  solved: number | null;
  /** The time synthesizer's loss and cosine with its target, interval means (a deep run: the mean over its layers). */
  synthesizerLoss: number | null;
  synthesizerCosine: number | null;
  /** A deep run: the same per layer (null: a one-layer run). */
  layerSynthesizerLoss: (number | null)[] | null;
  layerSynthesizerCosine: (number | null)[] | null;
}

/** What the report knows of one sequence run directory. */
export interface SequenceRunData {
  dir: string;
  id: string;
  config: {
    /** config.json's "config": every setting, for the config table and the legend labels. */
    settings: Json;
    preset: string | null;
    mode: string | null;
    task: string | null;
    window: number | null;
    layers: number;
  };
  /** null: no summary.json (the run has not finished, or crashed). */
  summary: {
    preset: string | null;
    mode: string | null;
    backend: string | null;
    steps: number | null;
    wallSeconds: number | null;
    stopped: boolean;
    testBpc: number | null;
    validBpc: number | null;
    solved: number | null;
  } | null;
  points: SequencePoint[];
  metricsSeconds: number | null;
  notes: string[];
}

/** Whether `runDir` holds a sequence run (its config.json says kind "sequence"). */
export function isSequenceRun(runDir: string): boolean {
  return runFiles(runDir).rawConfig.kind === 'sequence';
}

const numbers = (o: Json, key: string): (number | null)[] | null =>
  Array.isArray(o[key]) ? (o[key] as unknown[]).map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null)) : null;

/** Reads and checks one sequence run directory: config.json, metrics.jsonl and (when present) summary.json. */
export function readSequenceRun(runDir: string): SequenceRunData {
  const { dir, metricsPath, rawConfig } = runFiles(runDir);
  if (rawConfig.kind !== 'sequence') throw new ReportError(dir, 'is not a sequence run (its config.json has no kind "sequence")');
  const settings = obj(rawConfig, 'config');
  const notes: string[] = [];
  const summaryPath = join(dir, 'summary.json');
  const raw = existsSync(summaryPath) ? readJsonObject(summaryPath) : null;
  if (!raw) notes.push('no summary.json: the run has not finished (or it crashed); figures come from metrics.jsonl');
  const bpc = raw && isObject(raw.bpc) ? raw.bpc : null;
  const { lines, metricsSeconds } = metricsLines(metricsPath, notes);
  const points = lines
    .filter(({ record }) => record.type === undefined) // a sequence run's lines have no type
    .map(({ record, where, wallSeconds }): SequencePoint => {
      const step = num(record, 'step');
      if (step === null) throw new ReportError(where, 'expected a numeric "step" in a sequence metrics line');
      return {
        step,
        wallSeconds,
        loss: num(record, 'loss'),
        trainBpc: num(record, 'trainBpc'),
        length: num(record, 'length'),
        solved: num(record, 'solved'),
        synthesizerLoss: num(record, 'synthesizerLoss'),
        synthesizerCosine: num(record, 'synthesizerCosine'),
        layerSynthesizerLoss: numbers(record, 'timeSynthesizerLoss'),
        layerSynthesizerCosine: numbers(record, 'timeSynthesizerCosine'),
      };
    });
  if (points.length === 0) notes.push('no metrics line yet');
  return {
    dir,
    id: str(rawConfig, 'runId') ?? basename(dir),
    config: {
      settings,
      preset: str(rawConfig, 'preset'),
      mode: str(settings, 'mode'),
      task: str(settings, 'task'),
      window: num(settings, 'window'),
      layers: num(settings, 'layers') ?? 1,
    },
    summary: raw && {
      preset: str(raw, 'preset'),
      mode: str(raw, 'mode'),
      backend: str(raw, 'backend'),
      steps: num(raw, 'steps'),
      wallSeconds: num(raw, 'wallSeconds'),
      stopped: raw.stopped === true,
      testBpc: bpc && num(bpc, 'test'),
      validBpc: bpc && num(bpc, 'valid'),
      solved: num(raw, 'solved'),
    },
    points,
    metricsSeconds,
    notes,
  };
}
