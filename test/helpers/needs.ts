/**
 * Tests that cannot run on every machine, never skipped silently. `missing` is what this machine
 * lacks and how to get it (null when nothing is missing): the reason goes into the test's name
 * and skip message, and under CI (the CI environment variable set, as CI services and .ci/run
 * do) the test fails instead, naming it, because CI must run every test.
 */
import { test, type TestFn, type TestOptions } from 'node:test';
import { existsSync } from 'node:fs';

type Body = TestFn;

export function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** A test that needs something missing here (a tool, root, a kernel feature): skipped with why, failing under CI. */
export function testNeeding(missing: string | null, name: string, options: TestOptions, body: Body): void {
  if (missing === null) {
    test(name, options, body);
  } else if (inCi()) {
    test(`${name} [cannot run: ${missing}]`, options, () => {
      throw new Error(`CI runs every test, and this one cannot run here: ${missing}`);
    });
  } else {
    test(`${name} [skipped: ${missing}]`, { ...options, skip: missing }, body);
  }
}

/**
 * A test that does not apply to this machine, by design rather than for want of something to
 * install (e.g. one for machines without a native tfjs backend, on a machine with one):
 * skipped with why in its name, under CI too.
 */
export function testUnless(notApplicable: string | null, name: string, options: TestOptions, body: Body): void {
  if (notApplicable === null) test(name, options, body);
  else test(`${name} [skipped: ${notApplicable}]`, { ...options, skip: notApplicable }, body);
}

/** Says that `what` is missing and which Debian package brings it. */
export function missingTool(what: string, debianPackage: string): string {
  return `${what} is missing: install the Debian package ${debianPackage} (npm test's pretest does, as root)`;
}

/** Why a file a test needs is missing, naming its Debian package, or null when it is there. */
export function missingFile(path: string, debianPackage: string): string | null {
  return existsSync(path) ? null : missingTool(path, debianPackage);
}
