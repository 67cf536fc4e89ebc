import os from 'node:os';
import { versions } from '../../versions.js';

/** Where a bench ran: enough to compare figures across machines. */
export interface MachineInfo {
  /** Logical CPUs the OS reports. */
  cpus: number;
  /** CPUs this process may use (os.availableParallelism); the cores of the parallelism bound. */
  availableParallelism: number;
  model: string;
  platform: string;
  arch: string;
  totalMemoryGiB: number;
  /** 1, 5 and 15 minute load averages when the bench started. */
  loadAverage: number[];
  node: string;
  tfjs: string | null;
  tfjsBackendWasm: string | null;
  synthgrad: string | null;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const v = versions();
  return {
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    model: cpus[0]?.model.trim() ?? 'unknown',
    platform: os.platform(),
    arch: os.arch(),
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.versions.node,
    tfjs: v.tfjs ?? null,
    tfjsBackendWasm: v['tfjs-backend-wasm'] ?? null,
    synthgrad: v.synthgrad ?? null,
  };
}
