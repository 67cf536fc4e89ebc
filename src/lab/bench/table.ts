import { basename } from 'node:path';
import type { BenchResult, MeasuredCeiling } from './result.js';
import type { LoadSample } from './load.js';
import type { Speedup } from './analysis.js';
import { SEQUENTIAL } from './plan.js';
import { describeCeiling } from './matmul-ceiling.js';
import { referenceBlas, referenceName, type ReferenceRatio, type ReferenceRun } from './reference-pairs.js';
import { settingName, type ReferenceTuning } from './reference-settings.js';

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '-');
/** Fixed digits; a value that rounds to zero prints as 0, never -0. */
export const num = (x: number | null, digits: number) =>
  x === null || !Number.isFinite(x) ? '-' : (Math.abs(x) < 0.5 * 10 ** -digits ? 0 : x).toFixed(digits);
export const times = (x: number | null) => (x === null ? '-' : `${num(x, 2)}x`);
const cores = (x: number | null) => (x === null ? '-' : `${num(x, 2)} cores`);

/** Rows of cells as aligned columns, indented by two spaces (right: right-aligned columns). */
export function grid(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => '  ' + r.map((cell, c) => (right[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

export function speedupLine(s: Speedup): string {
  const paired = s.paired === null ? '' : ` (paired ${s.paired.toFixed(2)}x)`;
  const head = `${s.numerator} over ${s.denominator}: ${s.speedup.toFixed(2)}x${paired}`;
  if (s.bound === null) return head;
  const line = `${head} of bound ${s.bound.toFixed(2)} (${pct(s.ofBound!)})`;
  const l = s.lockstepBound;
  return l ? `${line}; ${l.bound.toFixed(2)} over a lockstep that already overlaps stages (${pct(l.ofBound)})` : line;
}

function loadText(l: LoadSample): string {
  return l.othersLoadCores === null ? 'unknown (no /proc/stat)' : `${num(l.othersCpuSeconds, 1)} CPU s, ${cores(l.othersLoadCores)}`;
}

/** When a ceiling was measured and the load meanwhile, and the slower measurement beside it. */
function whenMeasured(c: MeasuredCeiling): string {
  const slower = c.slower ? ` (${c.slower.measured}: ${c.slower.gflops.toFixed(1)} GFLOP/s, others' load ${cores(c.slower.load.othersLoadCores)})` : '';
  return `; ${c.measured ?? 'measured'}, others' load meanwhile ${cores(c.load.othersLoadCores)}${slower}`;
}

/** The human-readable bench report. */
export function benchTable(r: BenchResult): string {
  const { settings: s, machine: m } = r;
  const lines = [
    `synthgrad bench: ${s.preset ?? 'custom config'}, ${s.steps} steps of ${s.batchSize}, ${s.repetitions} repetition${s.repetitions === 1 ? '' : 's'} interleaved (${r.runs.length} runs)`,
    `  machine: ${m.cpus} x ${m.model}, node ${m.node}, tfjs ${m.tfjs ?? '?'}, stages on ${m.backend}; bound uses ${s.cores} cores`,
    `  matMul ceiling, one thread: ${describeCeiling(r.matMulCeiling)}${whenMeasured(r.matMulCeiling)}`,
    ...(r.convCeiling ? [`  conv ceiling, one thread: ${describeCeiling(r.convCeiling, { shape: r.convCeiling.shape, batch: s.batchSize })}${whenMeasured(r.convCeiling)}`] : []),
    '',
  ];
  lines.push(
    ...grid(
      [
        ['config', 'samples/s', 'per repetition', 'whole run', "others' load"],
        ...r.configs.map((c) => [
          c.config,
          c.medianSamplesPerSecond.toFixed(0),
          c.samplesPerSecond.map((x) => x.toFixed(0)).join(' '),
          c.medianWholeRunSamplesPerSecond.toFixed(0),
          cores(c.medianOthersLoadCores),
        ]),
      ],
      [false, true, false, true, true],
    ),
  );
  lines.push(
    s.warmup > 0
      ? `  (samples/s: after the first ${s.warmup} steps of each run, in which every thread compiles its hot code; whole run: all ${s.steps} steps)`
      : `  (samples/s: over all ${s.steps} steps of each run)`,
  );
  if (r.speedups.length) {
    lines.push('', '  speedup (ratio of median samples/s; paired: median of the repetitions\' own ratios; bound = min(cores, Σ busy / max busy) of the faster runs)');
    for (const sp of r.speedups) lines.push(`    ${speedupLine(sp)}`);
  }
  lines.push('');
  const stageRows: string[][] = [
    ['per stage (medians)', 'stage', 'busy s', 'cpu s', 'wait s', 'busy/(busy+wait)', 'send/busy', 'recv/busy', 'send p50 ms', 'recv p50 ms', 'moving/busy', 'GFLOP/s', 'of ceiling'],
  ];
  // a stage's GFLOP/s over its thread's CPU time (its busy time where that is not known), against the
  // ceiling beside it (conv2d for a stage with conv layers)
  const gflops = (config: string, i: number, seconds: number, repredictions = 0) => {
    const w = r.stageWork?.[config]?.[i];
    if (!w || w.flopsPerStep === null || !(seconds > 0)) return null;
    const achieved = (w.flopsPerStep * s.steps + repredictions * (w.repredictFlops ?? 0)) / seconds / 1e9;
    const ceiling = w.largestConv && r.convCeiling ? r.convCeiling.gflops : r.matMulCeiling.gflops;
    return { achieved, ofCeiling: achieved / ceiling };
  };
  const share = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-');
  for (const c of r.configs) {
    c.stages.forEach((st, i) =>
      stageRows.push([
        i === 0 ? c.config : '',
        String(st.stage),
        num(st.busySeconds, 2),
        num(st.cpuSeconds ?? null, 2),
        num(st.waitSeconds, 2),
        pct(st.utilisation),
        share(st.sendShare),
        share(st.receiveShare),
        num(st.sendMedianMs ?? null, 3),
        num(st.receiveMedianMs ?? null, 3),
        share(st.typicalMessageShare),
        num(gflops(c.config, i, st.cpuSeconds ?? st.busySeconds, st.synthesizerRepredictions)?.achieved ?? null, 1),
        pct(gflops(c.config, i, st.cpuSeconds ?? st.busySeconds, st.synthesizerRepredictions)?.ofCeiling ?? NaN),
      ]),
    );
  }
  lines.push(...grid(stageRows, [false, true, true, true, true, true, true, true, true, true, true, true, true]));
  lines.push(
    '  (cpu s: the stage thread\'s CPU time, without the time it waited for a core. send/busy and recv/busy are wall clock:',
    '   every send, and the receiving after every action (taking the messages that arrived meanwhile), including moments',
    '   the thread lost its core to another; moving/busy = (sends × send p50 + receives × recv p50) / busy is what moving',
    '   the messages took; GFLOP/s: the stage\'s matMul and conv FLOPs of all its steps over its cpu s (busy s where',
    '   that is not known), of the one-thread ceiling above: conv for a stage with conv layers (its own or its',
    '   synthesizer\'s), else matMul; over busy time it would also count the waits for a core when others load the machine)',
  );
  const source = r.runs.every((x) => x.stageSource === 'training') ? 'training only (before the final evaluation)' : 'include evaluation passes for some runs';
  lines.push(`  (stage times: ${source})`);
  if (r.configs.some((c) => c.config.endsWith(`/${SEQUENTIAL}`))) {
    lines.push(`  (${SEQUENTIAL} runs in one thread: a stage's wait is the rest of the training time (other stages, making batches), busy/(busy+wait) its share of it)`);
  }
  lines.push('');
  lines.push(
    ...grid(
      [
        ['run', 'config', 'rep', 'samples/s', 'whole run', 'wall s', "others' CPU s", "others' load"],
        ...r.runs.map((x) => [
          String(x.index + 1),
          x.config,
          String(x.repetition),
          x.samplesPerSecond.toFixed(0),
          x.trainSamplesPerSecond.toFixed(0),
          x.wallSeconds.toFixed(1),
          num(x.load.othersCpuSeconds, 1),
          cores(x.load.othersLoadCores),
        ]),
      ],
      [true, false, true, true, true, true, true, true],
    ),
  );
  lines.push(...referenceLines(r.reference?.runs ?? [], r.reference?.ratios ?? [], r.reference?.tuning ?? []));
  lines.push('', `  others' load over all runs: ${loadText(r.load)} over ${r.load.wallSeconds.toFixed(1)} s`, `  written: ${r.outDir}/bench.json`);
  return lines.join('\n');
}

/**
 * The table's lines for the reference: the settings each mode's reference ran in (and, when they
 * were tried, every setting's figure), its runs' figures and the paired ratios.
 */
export function referenceLines(references: readonly ReferenceRun[], ratios: readonly ReferenceRatio[], tuning: readonly ReferenceTuning[] = []): string[] {
  if (!references.length) return [];
  const first = references[0];
  const lines = [
    '',
    `  against PyTorch ${first.torch} (same model, batch and optimizer; scripts/torch-reference.py; BLAS: ${first.blas.map((b) => basename(b)).join(', ') || 'unknown'})`,
  ];
  for (const mode of [...new Set(references.map((r) => r.config))]) {
    const run = references.find((r) => r.config === mode)!;
    const tried = tuning.find((t) => referenceName(t.mode) === mode);
    const trials = tried ? `; the fastest of the settings tried once each before the runs (samples/s: ${tried.trials.map((t) => `${settingName(t.setting)} ${t.samplesPerSecond.toFixed(0)}`).join('; ')})` : '';
    lines.push(`    ${mode} ran on ${run.threads} thread${run.threads === 1 ? '' : 's'}, ${Object.entries(run.environment).map(([k, v]) => `${k}=${v}`).join(' ')}${trials}`);
  }
  lines.push('  (ratio: synthgrad samples/s over the reference of its mode in the same repetition; paired: the median of those ratios)');
  if (referenceBlas(first.blas)) {
    lines.push('  WARNING: PyTorch ran on the reference BLAS (Debian libblas3), many times slower than OpenBLAS: `apt-get install libopenblas0-pthread`');
  }
  for (const r of ratios) {
    lines.push(
      `    ${r.config} over ${r.reference}: paired ${times(r.paired)} (per repetition ${r.ratios.map((x) => num(x, 2)).join(' ')}); ${r.reference} median ${r.referenceMedianSamplesPerSecond.toFixed(0)} samples/s`,
    );
  }
  return lines;
}
