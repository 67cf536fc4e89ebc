import { InvalidArgumentError } from 'commander';
import type { Mode } from '../../config/schema.js';

/** Splits "a,b,c" (spaces allowed) into its items; an empty item is an error naming the flag. */
function items(value: string, flag: string, expected: string): string[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new InvalidArgumentError(`${flag}: expected ${expected}, got "${value}"`);
  return [...new Set(parts)];
}

/** `--layers 3,4`: depths among `allowed`. */
export function parseLayers(value: string, allowed: readonly number[]): number[] {
  const expected = `a comma-separated list of ${allowed.join(', ')}`;
  return items(value, '--layers', expected).map((item) => {
    const n = Number(item);
    if (!allowed.includes(n)) throw new InvalidArgumentError(`--layers: expected ${expected}, got "${item}"`);
    return n;
  });
}

/** `--modes cdni,backprop`: modes among `allowed`. */
export function parseModes(value: string, allowed: readonly Mode[]): Mode[] {
  const expected = `a comma-separated list of ${allowed.join(', ')}`;
  return items(value, '--modes', expected).map((item) => {
    if (!(allowed as readonly string[]).includes(item)) throw new InvalidArgumentError(`--modes: expected ${expected}, got "${item}"`);
    return item as Mode;
  });
}

/** `--p 1,0.5,0.2`: update probabilities in (0, 1]. */
export function parseProbabilities(value: string): number[] {
  const expected = 'a comma-separated list of probabilities in (0, 1], e.g. 1,0.5,0.2';
  return items(value, '--p', expected).map((item) => {
    const p = Number(item);
    if (!Number.isFinite(p) || p <= 0 || p > 1) throw new InvalidArgumentError(`--p: expected ${expected}, got "${item}"`);
    return p;
  });
}

/** `--budget 1287`: training steps, a positive whole number. */
export function parseBudget(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`--budget: expected a positive whole number of training steps (429 steps of 128 are one epoch), got "${value}"`);
  }
  return n;
}
