import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/stat (USER_HZ, 100 on Linux whatever the kernel's HZ). */
export const USER_HZ = 100;

/** Machine-wide CPU time from the `cpu` line of /proc/stat, in ticks. */
export interface CpuTimes {
  /** user + nice + system + irq + softirq + steal (guest time is already counted in user/nice). */
  busyTicks: number;
  /** idle + iowait */
  idleTicks: number;
}

/** Parses the aggregate `cpu ` line of /proc/stat. */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('/proc/stat: no aggregate "cpu" line');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((v) => !Number.isFinite(v))) throw new Error(`/proc/stat: cannot read "${line}"`);
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return { busyTicks: user + nice + system + irq + softirq + steal, idleTicks: idle + iowait };
}

/** The machine's CPU times now, or null where there is no /proc/stat (not Linux). */
export function readCpuTimes(path = '/proc/stat'): CpuTimes | null {
  try {
    return parseProcStat(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}
