/**
 * The import rule of docs/architecture.md, checked on the source itself: every import goes to a
 * unit of the same layer or a layer below, no two units import each other (directly or round a
 * longer loop), the transports never import each other, and the protocol names no transport.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cycles, readImports, unitEdges, unitOf, type Import } from './helpers/imports.js';

/** The repository root (the tests run from dist/test/, the sources are read as .ts). */
const root = fileURLToPath(new URL('../../', import.meta.url));

/** The layers, lowest first: docs/architecture.md draws the same. */
const layers: readonly (readonly string[])[] = [
  ['log.ts', 'path-error.ts', 'write-error.ts', 'versions.ts', 'atomic-write.ts', 'runtime'],
  ['model'],
  ['config', 'data', 'metrics'],
  ['stage'],
  ['loop'],
  ['pipeline'],
  ['transport/threads', 'transport/nats'],
  ['run', 'train.ts', 'checkpoint', 'sequence'],
  ['lab/bench', 'lab/report', 'lab/paper', 'lab/toy', 'cli', 'index.ts'],
];

/** Imports that go up a layer on purpose, each with its reason. */
const allowedUpward: Record<string, string> = {
  'src/train.ts -> src/lab/report/index.ts': 'a run draws its own report.html beside summary.json',
};

function rankOf(unit: string): number {
  return layers.findIndex((layer) => layer.includes(unit));
}

/** The rule breaks in a set of imports, as lines that name the files. */
function ruleBreaks(imports: Import[]): string[] {
  const breaks: string[] = [];
  const units = new Set(imports.flatMap((i) => [unitOf(i.from), unitOf(i.to)]));
  for (const unit of units) if (rankOf(unit) < 0) breaks.push(`${unit}: in no layer (place it in test/architecture.test.ts and docs/architecture.md)`);
  for (const i of imports) {
    const [a, b] = [unitOf(i.from), unitOf(i.to)];
    if (a === b || rankOf(a) < 0 || rankOf(b) < 0) continue;
    const edge = `${i.from} -> ${i.to}`;
    if (rankOf(b) > rankOf(a) && !(edge in allowedUpward)) breaks.push(`${edge}: ${a} imports ${b}, a layer above it`);
    if (a.startsWith('transport/') && b.startsWith('transport/')) breaks.push(`${edge}: one transport imports another`);
  }
  for (const cycle of cycles(unitEdges(imports))) breaks.push(`${cycle.join(', ')}: import each other`);
  return breaks;
}

const imports = readImports(root, ['src', 'workers']); // workers/: where worker entry files used to be

test('the sources were read: imports found in every layer', () => {
  assert.ok(imports.length > 200, `${imports.length} imports`);
  const seen = new Set(imports.map((i) => unitOf(i.from)));
  for (const layer of layers) assert.ok(layer.some((unit) => seen.has(unit)), `no file found in [${layer.join(', ')}]`);
});

test('imports run one way: down the layers, never between transports, no units that import each other', () => {
  assert.deepEqual(ruleBreaks(imports), []);
});

test('the rule check fails on a rule break: an import up a layer, a loop, one transport importing another', () => {
  const up = { from: 'src/stage/stage.ts', to: 'src/transport/threads/port-links.ts' };
  const loop = [
    { from: 'src/metrics/trace.ts', to: 'src/checkpoint/atomic.ts' },
    { from: 'src/checkpoint/atomic.ts', to: 'src/metrics/trace.ts' },
  ];
  const across = { from: 'src/transport/nats/nats-links.ts', to: 'src/transport/threads/port-channel.ts' };
  assert.match(ruleBreaks([up]).join('\n'), /stage imports transport\/threads, a layer above it/);
  assert.match(ruleBreaks(loop).join('\n'), /checkpoint, metrics: import each other/);
  assert.match(ruleBreaks([across]).join('\n'), /one transport imports another/);
  assert.match(ruleBreaks([{ from: 'src/extras/x.ts', to: 'src/model/index.ts' }]).join('\n'), /extras: in no layer/);
});

test('the protocol is plain data: it names no transport type and imports no node module', () => {
  // the code, without comments (they may say what a transport does with a message)
  const protocol = readFileSync(`${root}src/stage/protocol.ts`, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  assert.match(protocol, /export interface ForwardMessage/);
  assert.doesNotMatch(protocol, /MessagePort|worker_threads|NatsConnection/);
  assert.doesNotMatch(protocol, /from ['"]node:/);
});
