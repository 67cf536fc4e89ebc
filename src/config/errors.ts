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

/** The value at `path` in `input`, or undefined when it (or an object on the way) is absent. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** What a missing field should have been, from its zod issue. */
function expected(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  if (issue.code === 'invalid_value') return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message;
}

/**
 * One line per zod issue: `field: what was expected`. A field absent from `input` (when given) is
 * reported as `field: missing (expected ...)` rather than as a value of the wrong type.
 */
export function describeIssues(error: z.ZodError, input?: unknown): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${fieldPath([...issue.path, key])}: unknown field`);
    }
    const where = issue.path.length ? fieldPath(issue.path) : '(top level)';
    const missing = input !== undefined && issue.path.length > 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value') && valueAt(input, issue.path) === undefined;
    return [missing ? `${where}: missing (${expected(issue)})` : `${where}: ${issue.message}`];
  });
}
