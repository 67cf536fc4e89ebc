import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Folder for per-worker CPU profiles; profiling is on when this environment variable is set. */
export const CPU_PROFILE_ENV = 'SYNTHGRAD_CPU_PROFILE_DIR';

/**
 * Runs `fn` under the V8 CPU profiler of this thread when SYNTHGRAD_CPU_PROFILE_DIR is set, and
 * writes `<dir>/<name>.cpuprofile` (open it in Chrome DevTools or speedscope for a flame graph).
 */
export async function withCpuProfile<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = process.env[CPU_PROFILE_ENV];
  if (!dir) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}
