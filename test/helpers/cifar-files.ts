import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR10_RECORD_BYTES, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES } from '../../src/data/index.js';

export const PER_FILE = 30;

/** The byte of example `id` (global record number), channel c (0 R, 1 G, 2 B), row r, column k. */
export function pixel(id: number, c: number, r: number, k: number): number {
  return (id * 31 + c * 85 + r * 7 + k * 3) % 256;
}

/** label of example `id` */
export const labelOf = (id: number) => (id * 7 + 3) % 10;

/** A CIFAR-10 binary file of `count` records for examples first .. first+count-1 (planar R, G, B). */
export function cifarFile(first: number, count: number): Uint8Array {
  const out = new Uint8Array(count * CIFAR10_RECORD_BYTES);
  for (let i = 0; i < count; i++) {
    const base = i * CIFAR10_RECORD_BYTES;
    out[base] = labelOf(first + i);
    for (let c = 0; c < 3; c++) {
      for (let r = 0; r < 32; r++) {
        for (let k = 0; k < 32; k++) out[base + 1 + c * 1024 + r * 32 + k] = pixel(first + i, c, r, k);
      }
    }
  }
  return out;
}

/** Training examples have ids 0..149 (file f holds 30f..30f+29), test examples 1000..1029. */
export function writeCifar(dir: string): void {
  CIFAR10_TRAIN_FILES.forEach((name, f) => writeFileSync(join(dir, name), cifarFile(f * PER_FILE, PER_FILE)));
  writeFileSync(join(dir, CIFAR10_TEST_FILE), cifarFile(1000, PER_FILE));
}
