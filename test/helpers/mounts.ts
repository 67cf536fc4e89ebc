import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/**
 * Why small file systems cannot be mounted for a test here, or null when they can: mounting a
 * tmpfs needs root (and a kernel that allows it in this container). The tests that need one skip
 * with this reason in their output.
 */
export function cannotMount(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs (run the tests as root)';
  return null;
}

/** Runs `body` with a tmpfs of `size` (e.g. '2m') mounted at `dir`, unmounted afterwards whatever happens. */
export async function withTmpfs(dir: string, size: string, body: (dir: string) => unknown): Promise<void> {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  try {
    await body(dir);
  } finally {
    execFileSync('umount', ['-l', dir]);
  }
}

/** Makes the tmpfs at `dir` read-only (root is refused too, unlike with chmod). */
export function remountReadOnly(dir: string): void {
  execFileSync('mount', ['-o', 'remount,ro', dir]);
}
