import type { z } from 'zod';

/** A config that cannot be used: names where it came from and every field that is wrong. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid config (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** One line per zod issue: `field: what was expected`. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${fieldPath([...issue.path, key])}: unknown field`);
    }
    const where = issue.path.length ? fieldPath(issue.path) : '(top level)';
    return [`${where}: ${issue.message}`];
  });
}
