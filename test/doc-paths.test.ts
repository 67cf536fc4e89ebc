/**
 * The documentation names files that exist: every repository path in README.md, docs/ and
 * scripts/README.md (a path in backticks, or a relative link), and every docs/ page the code
 * cites. Files move; this says which page to mend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pages = ['README.md', 'scripts/README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Whether a repository path exists; a compiled name (`scripts/x.js`) counts when its TypeScript source does. */
function exists(path: string): boolean {
  const full = join(root, path);
  return existsSync(full) || (path.endsWith('.js') && existsSync(full.replace(/\.js$/, '.ts')));
}

/** The repository paths a page names: `src/...`-style paths in backticks, and relative links. */
function namedPaths(page: string): string[] {
  const text = readFileSync(join(root, page), 'utf8');
  const quoted = [...text.matchAll(/`((?:src|workers|scripts|test|docs)\/[\w./-]*)`/g)].map((m) => m[1]);
  const linked = [...text.matchAll(/\]\(([^)\s#]+\.(?:md|ts|js|json))(?:#[^)]*)?\)/g)]
    .map((m) => m[1])
    .filter((l) => !/^[a-z]+:/.test(l))
    .map((l) => relative(root, normalize(join(root, dirname(page), l))));
  return [...quoted, ...linked];
}

test('every file README.md, docs/ and scripts/README.md name exists', () => {
  const missing = pages.flatMap((page) => namedPaths(page).filter((p) => !exists(p)).map((p) => `${page}: ${p}`));
  assert.deepEqual(missing, []);
});

test('the pages are found, and name paths (the check above is not empty)', () => {
  assert.ok(pages.includes('docs/dni.md') && pages.includes('docs/performance.md'), pages.join(', '));
  assert.ok(namedPaths('docs/dni.md').length > 3);
});

test('every docs/ page the code cites exists', () => {
  const sources = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => relative(root, join(e.parentPath, e.name)));
  const missing = ['src', 'scripts', 'test'].flatMap(sources).flatMap((file) =>
    [...readFileSync(join(root, file), 'utf8').matchAll(/docs\/[\w-]+\.md/g)].map((m) => m[0]).filter((p) => !exists(p)).map((p) => `${file}: ${p}`),
  );
  assert.deepEqual([...new Set(missing)], []);
});
