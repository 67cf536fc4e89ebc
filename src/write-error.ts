import { PathError } from './path-error.js';

/**
 * A file of a run could not be written (no space left, no permission, a read-only file system, a
 * file in the way). Not a stage failure: the run stops, keeping its last complete checkpoint.
 */
export class WriteError extends PathError {
  constructor(path: string, cause: unknown) {
    super(path, `cannot be written: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** Runs `write`, turning any error into a WriteError naming `path`. */
export function writing<T>(path: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw error instanceof WriteError ? error : new WriteError(path, error);
  }
}

/** Why a write failed, without the path (for a report that names the file itself). */
export function writeCause(error: unknown): string {
  const cause = error instanceof WriteError ? error.cause : error;
  return (cause as Error)?.message ?? String(cause);
}
