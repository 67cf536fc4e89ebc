/**
 * The imports between the trainer's source files, read from the files themselves: static imports
 * and re-exports, and dynamic import() of a literal path. Only relative paths count (packages are
 * not ours). Files started by path (a worker's file, the CLI a stage process runs) are not imports.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

export interface Import {
  /** Both relative to the root given to readImports, with '/' separators and .ts endings. */
  from: string;
  to: string;
}

const specifiers = [
  /\b(?:import|export)\s[^'";]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g,
  /\bimport\s*['"](\.{1,2}\/[^'"]+)['"]/g,
  /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g,
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every relative import of the .ts files under `folders` (relative to `root`). */
export function readImports(root: string, folders: string[]): Import[] {
  const files = folders.flatMap((folder) => {
    try {
      return sourceFiles(join(root, folder));
    } catch {
      return []; // a folder this layout does not have
    }
  });
  const posix = (path: string) => relative(root, path).split(sep).join('/');
  return files.flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return specifiers.flatMap((pattern) =>
      [...text.matchAll(pattern)].map((m) => ({
        from: posix(file),
        to: posix(normalize(join(dirname(file), m[1]))).replace(/\.js$/, '.ts'),
      })),
    );
  });
}

/**
 * The unit a file belongs to: its top folder under src/ (`stage`, `model`, ...), except that each
 * transport and each lab tool is a unit of its own (`transport/nats`, `lab/bench`); a file directly
 * in src/ is a unit by itself (`train.ts`); a top folder other than src/ is a unit as it is.
 */
export function unitOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] !== 'src') return parts[0];
  if (parts.length === 2) return parts[1];
  if ((parts[1] === 'transport' || parts[1] === 'lab') && parts.length > 3) return `${parts[1]}/${parts[2]}`;
  return parts[1];
}

/** The imports between units, one per pair, with a file import that makes it. */
export function unitEdges(imports: Import[]): Map<string, Map<string, Import>> {
  const edges = new Map<string, Map<string, Import>>();
  for (const i of imports) {
    const a = unitOf(i.from);
    const b = unitOf(i.to);
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, i);
  }
  return edges;
}

/** Groups of units that import each other, directly or through others (Tarjan's strongly connected components of more than one unit). */
export function cycles(edges: Map<string, Map<string, Import>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const nodes = new Set([...edges.keys(), ...[...edges.values()].flatMap((m) => [...m.keys()])]);
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of [...nodes].sort()) if (!index.has(v)) visit(v);
  return found;
}
