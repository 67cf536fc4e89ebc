import type { RunData } from './read-run.js';
import { runFigures } from './figures.js';

/** Test error (%) against update probability p for the runs of one mode. */
export interface ProbabilitySeries {
  mode: string;
  /** x = p, y = test error (%), by increasing p; `run` names the run of each point. */
  points: { x: number; y: number; run: string }[];
}

/**
 * Test error against train.updateProbability, one series per mode, when the runs differ in p
 * (a sweep); null when they do not, or fewer than two runs have both p and a test figure.
 */
export function errorByUpdateProbability(runs: RunData[]): ProbabilitySeries[] | null {
  const known = runs.flatMap((run) => {
    const p = run.config.updateProbability;
    const accuracy = runFigures(run).testAccuracy;
    return p === null || accuracy === null ? [] : [{ p, error: (1 - accuracy) * 100, mode: runFigures(run).mode ?? 'unknown mode', run: run.id }];
  });
  if (known.length < 2 || new Set(known.map((k) => k.p)).size < 2) return null;
  const modes = [...new Set(known.map((k) => k.mode))];
  return modes.map((mode) => ({
    mode,
    points: known
      .filter((k) => k.mode === mode)
      .sort((a, b) => a.p - b.p)
      .map((k) => ({ x: k.p, y: k.error, run: k.run })),
  }));
}
