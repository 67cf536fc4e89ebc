import { renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';

/** Writes a file so that a reader sees either the old content or the whole new one. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  writeFileSync(temporary, data);
  const fd = openSync(temporary, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
