/**
 * The field checks every message validator is built from (message-validators.ts for the stages'
 * own messages, nats-protocol.ts for the NATS wire): each throws a TypeError naming the field.
 */

export function fail(what: string): never {
  throw new TypeError(what);
}

/** A plain object (not an array, not a typed array); `what` names it in the error. */
export function record(value: unknown, what = 'message'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) fail(`${what} is not an object`);
  return value as Record<string, unknown>;
}

export function int(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) fail(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

export function finite(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${name} must be a finite number`);
  return value;
}

export function text(value: unknown, name: string, max = 65_536): string {
  if (typeof value !== 'string' || value.length > max) fail(`${name} must be a string of at most ${max} characters`);
  return value;
}

/** No fields but `keys` (`where` follows the field's name in the error, e.g. " in done[]"). */
export function only(m: Record<string, unknown>, keys: readonly string[], where = ''): void {
  const known = new Set(keys);
  for (const key of Object.keys(m)) if (!known.has(key)) fail(`unexpected field ${JSON.stringify(key.slice(0, 40))}${where}`);
}
