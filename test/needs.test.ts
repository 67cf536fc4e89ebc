/**
 * No silent skips: a test that needs something missing says why in its name and skip message,
 * and fails under CI; a test that does not apply here is skipped with why, under CI too. Each case
 * runs a small test file in its own `node --test`, with and without CI set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const helper = new URL('./helpers/needs.js', import.meta.url).href;

function runTests(source: string, ci: string | undefined): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-needs-'));
  try {
    const file = join(dir, 'case.test.mjs');
    writeFileSync(file, `import { testNeeding, testUnless } from '${helper}';\n${source}\n`);
    const env: NodeJS.ProcessEnv = { ...process.env, CI: ci };
    if (ci === undefined) delete env.CI;
    delete env.NODE_TEST_CONTEXT; // a test file of its own, not a subtest of this run
    const child = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], { env, encoding: 'utf8' });
    return { status: child.status, output: child.stdout + child.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const needing = "testNeeding('frobnicator is missing: install the Debian package frob', 'frobs', {}, () => { throw new Error('the body ran'); });";
const present = "testNeeding(null, 'frobs', {}, () => {});";
const notApplicable = "testUnless('a native frob is here, and this test is for machines without one', 'frobs', {}, () => { throw new Error('the body ran'); });";

test('without CI, a test that needs something missing is skipped, with why in its name and skip message', () => {
  const { status, output } = runTests(needing, undefined);
  assert.equal(status, 0, output);
  assert.match(output, /ok 1 - frobs \[skipped: frobnicator is missing: install the Debian package frob\] # SKIP frobnicator is missing/);
  assert.match(output, /# skipped 1/);
});

test('under CI, the same test fails, naming what is missing; a CI variable of "false" or "0" is not CI', () => {
  for (const ci of ['true', '1']) {
    const { status, output } = runTests(needing, ci);
    assert.equal(status, 1, output);
    assert.match(output, /not ok 1 - frobs \[cannot run: frobnicator is missing: install the Debian package frob\]/);
    assert.match(output, /CI runs every test, and this one cannot run here: frobnicator is missing/);
    assert.doesNotMatch(output, /the body ran/);
  }
  for (const ci of ['false', '0', '']) assert.equal(runTests(needing, ci).status, 0, `CI=${ci}`);
});

test('with nothing missing, the test runs under its own name, in CI or not', () => {
  for (const ci of [undefined, 'true']) {
    const { status, output } = runTests(present, ci);
    assert.equal(status, 0, output);
    assert.match(output, /ok 1 - frobs\n/);
    assert.match(output, /# pass 1/);
  }
});

test('a test that does not apply here is skipped with why, under CI too', () => {
  for (const ci of [undefined, 'true']) {
    const { status, output } = runTests(notApplicable, ci);
    assert.equal(status, 0, output);
    assert.match(output, /ok 1 - frobs \[skipped: a native frob is here, and this test is for machines without one\] # SKIP/);
  }
});
