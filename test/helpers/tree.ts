import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

/** Every file below `dir` with a hash of its content: equal snapshots mean nothing was changed. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string, rel: string) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      const name = rel ? `${rel}/${entry}` : entry;
      if (statSync(full).isDirectory()) walk(full, name);
      else out[name] = createHash('sha1').update(readFileSync(full)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}
