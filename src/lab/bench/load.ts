import { performance } from 'node:perf_hooks';
import { readCpuTimes, USER_HZ, type CpuTimes } from './proc-stat.js';

/** CPU use during one measured interval: the machine's, this process tree's, and the rest. */
export interface LoadSample {
  wallSeconds: number;
  /** CPU seconds of this process, its worker threads included (process.cpuUsage). */
  ownCpuSeconds: number;
  /** Non-idle CPU seconds of the whole machine (/proc/stat); null without /proc/stat. */
  machineCpuSeconds: number | null;
  /** machine - own: what other processes used meanwhile. */
  othersCpuSeconds: number | null;
  /** othersCpuSeconds / wallSeconds: how many cores other processes kept busy on average. */
  othersLoadCores: number | null;
}

/**
 * The other processes' share of an interval. /proc/stat counts in 10 ms ticks, so a short
 * interval can come out slightly negative; it is reported as measured.
 */
export function othersLoad(before: CpuTimes | null, after: CpuTimes | null, ownCpuSeconds: number, wallSeconds: number): LoadSample {
  if (!before || !after) return { wallSeconds, ownCpuSeconds, machineCpuSeconds: null, othersCpuSeconds: null, othersLoadCores: null };
  const machineCpuSeconds = (after.busyTicks - before.busyTicks) / USER_HZ;
  const othersCpuSeconds = machineCpuSeconds - ownCpuSeconds;
  return {
    wallSeconds,
    ownCpuSeconds,
    machineCpuSeconds,
    othersCpuSeconds,
    othersLoadCores: wallSeconds > 0 ? othersCpuSeconds / wallSeconds : null,
  };
}

/** Starts measuring now; call the returned function at the end of the interval. */
export function startLoadMeter(): () => LoadSample {
  const cpu0 = process.cpuUsage();
  const stat0 = readCpuTimes();
  const t0 = performance.now();
  return () => {
    const stat1 = readCpuTimes();
    const cpu = process.cpuUsage(cpu0);
    const wallSeconds = (performance.now() - t0) / 1000;
    return othersLoad(stat0, stat1, (cpu.user + cpu.system) / 1e6, wallSeconds);
  };
}

/** Sums intervals: total CPU seconds, and others' load over the total wall time. */
export function totalLoad(samples: readonly LoadSample[]): LoadSample {
  const sum = (pick: (s: LoadSample) => number) => samples.reduce((a, s) => a + pick(s), 0);
  const wallSeconds = sum((s) => s.wallSeconds);
  const known = samples.every((s) => s.machineCpuSeconds !== null);
  const machineCpuSeconds = known ? sum((s) => s.machineCpuSeconds!) : null;
  const othersCpuSeconds = known ? sum((s) => s.othersCpuSeconds!) : null;
  return {
    wallSeconds,
    ownCpuSeconds: sum((s) => s.ownCpuSeconds),
    machineCpuSeconds,
    othersCpuSeconds,
    othersLoadCores: othersCpuSeconds !== null && wallSeconds > 0 ? othersCpuSeconds / wallSeconds : null,
  };
}
