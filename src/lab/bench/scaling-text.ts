import type { ScalingFigures, StageScalingReport } from './scaling-figures.js';
import { grid, num, times } from './table.js';

/** What stage-scaling ran, for its first line. */
export interface ScalingHeading {
  preset: string;
  mode: string;
  backend: string;
  warmup: number;
}


function stageTable(m: ScalingFigures): string[] {
  return grid(
    [
      ['stage', 'CPU one thread', 'CPU own thread', 'own/one', 'run queue one thread', 'run queue own thread', 'wall own thread'],
      ...m.stages.map((s) => [
        String(s.stage),
        num(s.oneThreadCpuMs, 2),
        num(s.threadCpuMs, 2),
        times(s.cpuRatio),
        num(s.oneThreadRunQueueMs, 2),
        num(s.threadRunQueueMs, 2),
        num(s.threadWallMs, 2),
      ]),
      ['Σ', num(m.oneThreadCpuMs, 2), num(m.threadsCpuMs, 2), times(m.cpuRatio), '', '', ''],
    ],
    [true, true, true, true, true, true, true],
  );
}

function repetitionTable(reps: readonly ScalingFigures[]): string[] {
  return grid(
    [
      ['repetition', 'samples/s one thread', 'samples/s threads', 'speedup', 'bound', 'Σ CPU one thread', 'Σ CPU threads', 'ratio', "others' load one/threads"],
      ...reps.map((r, i) => [
        String(i + 1),
        num(r.oneThreadSamplesPerSecond, 0),
        num(r.threadsSamplesPerSecond, 0),
        times(r.speedup),
        times(r.bound),
        num(r.oneThreadCpuMs, 2),
        num(r.threadsCpuMs, 2),
        times(r.cpuRatio),
        `${num(r.oneThreadOthersLoadCores, 2)} / ${num(r.threadsOthersLoadCores, 2)}`,
      ]),
    ],
    [true, true, true, true, true, true, true, true, true],
  );
}

/** The human-readable stage-scaling report. */
export function scalingText(report: StageScalingReport, heading: ScalingHeading): string {
  const { settings: s, median: m } = report;
  const n = report.repetitions.length;
  return [
    `stage-scaling: ${heading.preset} (${heading.mode}), ${m.stages.length} stages, batch ${s.batchSize}, backend ${heading.backend}, ` +
      `${s.steps} timed steps after ${heading.warmup} warm-up, ${n} repetition${n === 1 ? '' : 's'} interleaved, ${s.cores} cores`,
    '  one thread: every stage in this thread, one after another per step',
    '  threads: one worker thread per stage, all released at once, no messages between them',
    '',
    `  per stage, ms per step (medians of ${n}):`,
    ...stageTable(m),
    '  (Σ own/one: how much more CPU the same work takes when the stages run at once)',
    '',
    `  samples/s: one thread ${num(m.oneThreadSamplesPerSecond, 0)}, free-running threads ${num(m.threadsSamplesPerSecond, 0)} (to the slowest stage thread's last step)`,
    `  free-running speedup ${times(m.speedup)}; bound min(${s.cores} cores, Σ busy / max busy) of the one-thread stage CPU times ${times(m.bound)}`,
    '  (what the stages get running at once with nothing to wait for, the cores shared evenly; a pipeline adds messages and waits)',
    `  others' load (cores other processes kept busy): one thread ${num(m.oneThreadOthersLoadCores, 2)}, threads ${num(m.threadsOthersLoadCores, 2)}`,
    '',
    '  per repetition (CPU in ms per step):',
    ...repetitionTable(report.repetitions),
  ].join('\n');
}
