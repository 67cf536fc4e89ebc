import { ConfigError } from '../../config/errors.js';
import { modes, type Mode } from '../../config/schema.js';

export type BenchMode = Mode;

/**
 * The schedule name of a configuration whose stages all run in the bench's own thread, one after
 * another (`cdni/sequential`, see sequential.ts). Not a schedule of the config schema: such a
 * configuration is resolved with schedule lockstep, whose order it follows.
 */
export const SEQUENTIAL = 'sequential';

/** One benchmarked configuration: a training mode and a schedule, named `mode/schedule`. */
export interface BenchConfigName {
  name: string;
  mode: BenchMode;
  /** As named (`sequential` included): the run's directory and records use it. */
  schedule: string;
  /** The schedule its config resolves with (`sequential`: lockstep). */
  configSchedule: string;
  /** Every stage in the bench's own thread, one after another (`sequential`), not in workers. */
  inThread: boolean;
}

/** Parses `cdni/async`; the schedule is checked against the config schema later (`sequential` is always accepted). */
export function parseConfigName(text: string): BenchConfigName {
  const match = /^([a-z]+)\/([a-z]+)$/.exec(text.trim());
  if (!match || !(modes as readonly string[]).includes(match[1])) {
    throw new ConfigError('--configs', [`"${text}": expected mode/schedule with mode one of ${modes.join(', ')} (e.g. cdni/async)`]);
  }
  const [, mode, schedule] = match;
  const inThread = schedule === SEQUENTIAL;
  return { name: `${mode}/${schedule}`, mode: mode as BenchMode, schedule, configSchedule: inThread ? 'lockstep' : schedule, inThread };
}

/** backprop/lockstep, cdni/sequential, cdni/lockstep, cdni/async, and cdni/pipelined when the schema has that schedule. */
export function defaultConfigNames(pipelinedAccepted: boolean): string[] {
  return ['backprop/lockstep', `cdni/${SEQUENTIAL}`, 'cdni/lockstep', 'cdni/async', ...(pipelinedAccepted ? ['cdni/pipelined'] : [])];
}

export interface PlannedRun<T> {
  /** Position in the whole bench, from 0. */
  index: number;
  /** 1-based repetition number. */
  repetition: number;
  config: T;
}

/**
 * Interleaved order: repetition 1 of every configuration, then repetition 2 of every one, ...
 * so a slow drift of the machine (other jobs, heat) falls on all configurations alike.
 */
export function interleave<T>(configs: readonly T[], repetitions: number): PlannedRun<T>[] {
  const runs: PlannedRun<T>[] = [];
  for (let repetition = 1; repetition <= repetitions; repetition++) {
    for (const config of configs) runs.push({ index: runs.length, repetition, config });
  }
  return runs;
}
