import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The files `npm pack` would publish (package.json "files", after a build). */
function packedFiles(): Set<string> {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  return new Set(pack.files.map((f) => f.path));
}

/** Relative paths a built module loads at run time: static and dynamic imports, and new URL(..., import.meta.url) (workers, kernels.wasm). */
function localImports(source: string): string[] {
  const patterns = [/\bfrom\s+'(\.\.?\/[^']+)'/g, /\bimport\(\s*'(\.\.?\/[^']+)'\s*\)/g, /new URL\(\s*'(\.\.?\/[^']+)'\s*,\s*import\.meta\.url\)/g, /^import\s+'(\.\.?\/[^']+)'/gm];
  return patterns.flatMap((p) => [...source.matchAll(p)].map((m) => m[1]));
}

test('the published package holds every file its entry points and CLI load at run time', () => {
  const files = packedFiles();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const entry of [pkg.main, pkg.bin.synthgrad, pkg.types, 'README.md', 'package.json']) assert.ok(files.has(entry), `${entry} is published`);
  assert.ok(![...files].some((f) => f.startsWith('dist/test/') || f.startsWith('src/') || f.startsWith('test/')), 'no tests or TypeScript sources');
  const missing: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!files.has(file)) return void missing.push(file);
    if (!file.endsWith('.js')) return;
    for (const target of localImports(readFileSync(join(root, file), 'utf8'))) visit(normalize(join(dirname(file), target)));
  };
  visit(pkg.main);
  visit(pkg.bin.synthgrad);
  assert.deepEqual(missing, [], 'files loaded at run time but not published');
  assert.ok(seen.has('dist/src/transport/threads/stage-worker.js') && seen.has('dist/src/runtime/kernels.wasm'), 'the walk reaches the stage worker and the wasm kernels');
});
