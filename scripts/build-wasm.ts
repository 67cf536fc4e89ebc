/**
 * Part of `npm run build`: assembles the WebAssembly text files of src/ (`*.wat`) into binaries
 * next to their compiled modules in dist/src/, where the runtime loads them. Uses wabt (a dev
 * dependency): the binaries are built, never committed.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function watFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return watFiles(path);
    return entry.name.endsWith('.wat') ? [path] : [];
  });
}

const wabt = await initWabt();
for (const source of watFiles(join(root, 'src'))) {
  const name = relative(root, source);
  const module = wabt.parseWat(name, readFileSync(source, 'utf8'), { simd: true, bulk_memory: true });
  try {
    module.validate();
    const target = join(root, 'dist', name.replace(/\.wat$/, '.wasm'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, module.toBinary({}).buffer);
    console.log(`build-wasm: ${name} -> ${relative(root, target)}`);
  } finally {
    module.destroy();
  }
}
