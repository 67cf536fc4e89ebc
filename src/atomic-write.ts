import { renameSync, writeFileSync, openSync, fsyncSync, closeSync, rmSync } from 'node:fs';
import { writing } from './write-error.js';

/**
 * Writes a file so that a reader sees either the old content or the whole new one. A failure (a
 * WriteError naming `path`) leaves the old file as it was and no temporary file behind.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  writing(path, () => {
    try {
      writeFileSync(temporary, data);
      const fd = openSync(temporary, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, path);
    } catch (error) {
      rmSync(temporary, { force: true });
      throw error;
    }
  });
}
