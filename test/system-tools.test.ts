/**
 * npm test's pretest step on a fake machine: which tools it finds, what it runs to install the
 * missing ones as root on Debian, and the one message it stops with when it cannot install.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Requirement } from '../scripts/system-requirements.js';
import { requirements } from '../scripts/system-requirements.js';
import { SetupError, ensureTools, installSteps, missingTools, systemMirror, type System } from '../scripts/system-tools.js';

const natsServer: Requirement = { name: 'nats-server', why: 'NATS tests', detect: { command: 'nats-server' }, apt: { package: 'nats-server' } };
const chromium: Requirement = { name: 'chromium', why: 'report tests', detect: { files: ['/usr/bin/chromium'] }, apt: { package: 'chromium' } };
const lavapipe: Requirement = {
  name: 'lavapipe',
  why: 'WebGPU tests',
  detect: { files: ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'] },
  apt: { package: 'mesa-vulkan-drivers', suite: '{codename}-backports', source: 'deb {mirror} {codename}-backports main' },
};

/** A machine with `files` (executables are the ones listed in `executables`); apt-get "installs" what `provides` says. */
function fakeSystem(options: { files: string[]; executables?: string[]; path?: string; isRoot?: boolean; isDebian?: boolean; sources?: string; provides?: Record<string, string[]>; status?: number }) {
  const files = new Set(options.files);
  const executables = new Set(options.executables ?? []);
  const ran: string[] = [];
  const written: Record<string, string> = {};
  const system: System = {
    path: options.path ?? '/usr/local/bin:/usr/bin:/bin',
    isRoot: options.isRoot ?? true,
    isDebian: options.isDebian ?? true,
    codename: 'bookworm',
    exists: (path, executable = false) => (executable ? executables.has(path) : files.has(path) || executables.has(path)),
    aptSources: () => [options.sources ?? 'deb http://apt.example/debian bookworm main\n', ...Object.values(written)].join('\n'),
    writeFile: (path, text) => {
      written[path] = text;
      files.add(path);
    },
    run: (command, args) => {
      ran.push([command, ...args].join(' '));
      if (args[0] === 'install') for (const pkg of args.slice(1)) for (const f of options.provides?.[pkg] ?? []) executables.add(f);
      return options.status ?? 0;
    },
  };
  return { system, ran, written };
}

test('tools are found on PATH, in the sbin folders off PATH, or at their fixed path', () => {
  const { system } = fakeSystem({ files: [], executables: ['/usr/sbin/nats-server', '/usr/bin/chromium'] });
  assert.deepEqual(missingTools([natsServer, chromium], system), []);
  const elsewhere = fakeSystem({ files: [], executables: ['/opt/nats/nats-server'], path: '/opt/nats' }).system;
  assert.deepEqual(missingTools([natsServer, chromium], elsewhere).map((r) => r.name), ['chromium']);
  const notExecutable = fakeSystem({ files: ['/usr/bin/nats-server'] }).system;
  assert.deepEqual(missingTools([natsServer], notExecutable).map((r) => r.name), ['nats-server'], 'a file that is not executable is not the tool');
});

test('as root on Debian: apt-get update, then install the missing packages, non-interactively, and check again', () => {
  const { system, ran } = fakeSystem({
    files: [],
    executables: ['/usr/bin/apt-get', '/usr/bin/chromium'],
    provides: { 'nats-server': ['/usr/sbin/nats-server'] },
  });
  const lines: string[] = [];
  assert.deepEqual(ensureTools([natsServer, chromium], system, (l) => lines.push(l)), ['nats-server']);
  assert.deepEqual(ran, ['apt-get update -qq', 'apt-get install -y -qq nats-server']);
  assert.match(lines.join('\n'), /installing nats-server \(Debian package nats-server\)/);
  assert.deepEqual(ensureTools([natsServer, chromium], system, () => undefined), [], 'nothing to do once present');
});

test('a package from backports: its apt source is added once, and it installs from that suite', () => {
  const { system, ran, written } = fakeSystem({
    files: [],
    executables: ['/usr/bin/apt-get'],
    provides: { 'nats-server': ['/usr/sbin/nats-server'], 'mesa-vulkan-drivers': ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'] },
  });
  assert.deepEqual(ensureTools([natsServer, lavapipe], system, () => undefined), ['nats-server', 'lavapipe']);
  assert.deepEqual(written, { '/etc/apt/sources.list.d/bookworm-backports.list': 'deb http://apt.example/debian bookworm-backports main\n' });
  assert.deepEqual(ran, ['apt-get update -qq', 'apt-get install -y -qq nats-server', 'apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers']);
  assert.equal(installSteps([lavapipe], system).filter((s) => 'write' in s).length, 0, 'written once, then configured');
  const debian = 'Types: deb\nURIs: http://apt.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n';
  assert.equal(installSteps([lavapipe], fakeSystem({ files: [], sources: debian }).system).filter((s) => 'write' in s).length, 1);
  for (const sources of [
    'Types: deb\nURIs: http://apt.example/debian\nSuites: bookworm-backports\nComponents: main\n', // deb822, any file name
    'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://apt.example/debian bookworm-backports main\n',
  ]) {
    const steps = installSteps([lavapipe], fakeSystem({ files: [], sources }).system);
    assert.ok(steps.every((s) => !('write' in s)), `a suite already configured is not added again: ${sources}`);
  }
});

test('not root: nothing runs, and one message names each missing tool, its package and the commands to run', () => {
  const { system, ran } = fakeSystem({ files: [], executables: ['/usr/bin/apt-get'], isRoot: false });
  const error = (() => {
    try {
      ensureTools([natsServer, chromium, lavapipe], system, () => undefined);
    } catch (e) {
      return e;
    }
    assert.fail('expected a SetupError');
  })();
  assert.ok(error instanceof SetupError);
  assert.deepEqual(ran, []);
  assert.equal(
    error.message,
    [
      'npm test needs system tools that are missing here:',
      '  - nats-server, for NATS tests: Debian package nats-server',
      '  - chromium (/usr/bin/chromium), for report tests: Debian package chromium',
      '  - lavapipe (/usr/share/vulkan/icd.d/lvp_icd.x86_64.json), for WebGPU tests: Debian package mesa-vulkan-drivers',
      'They were not installed automatically: npm test is not running as root. Install them as root with:',
      "  echo 'deb http://apt.example/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list",
      '  apt-get update',
      '  apt-get install -y nats-server chromium',
      '  apt-get install -y -t bookworm-backports mesa-vulkan-drivers',
    ].join('\n'),
  );
});

test('not Debian, no apt-get, a failing apt-get, or a package that does not bring the tool: a SetupError that says why', () => {
  const cases: [Parameters<typeof fakeSystem>[0], RegExp][] = [
    [{ files: [], executables: ['/usr/bin/apt-get'], isDebian: false }, /not Debian \(no \/etc\/debian_version\)/],
    [{ files: [], executables: [] }, /apt-get was not found/],
    [{ files: [], executables: ['/usr/bin/apt-get'], status: 100 }, /`apt-get update` exited with status 100/],
    [{ files: [], executables: ['/usr/bin/apt-get'] }, /still missing after apt-get installed nats-server/],
  ];
  for (const [options, reason] of cases) {
    assert.throws(() => ensureTools([natsServer], fakeSystem(options).system, () => undefined), (e: unknown) => {
      assert.ok(e instanceof SetupError);
      assert.match(e.message, reason);
      assert.match(e.message, /apt-get install -y nats-server/);
      return true;
    });
  }
});

test('every requirement names a Debian package, and none is listed twice', () => {
  assert.ok(requirements.length > 0);
  for (const r of requirements) assert.match(r.apt.package, /^[a-z0-9][a-z0-9.+-]+$/, r.name);
  assert.equal(new Set(requirements.map((r) => r.name)).size, requirements.length);
});

test('a backports source is written for the mirror that serves the system\'s own suite, named by no host in the code', () => {
  const mirror = (sources: string) => systemMirror(fakeSystem({ files: [], sources }).system);
  assert.equal(mirror('deb [arch=amd64] http://one.example/debian bookworm main\n'), 'http://one.example/debian');
  assert.equal(mirror('Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://two.example/debian\nSuites: bookworm bookworm-updates\n'), 'http://two.example/debian');
  assert.equal(mirror('deb http://three.example/debian trixie main\n'), null);
  const steps = installSteps([lavapipe], fakeSystem({ files: [], sources: 'deb http://one.example/debian bookworm main\n' }).system);
  assert.deepEqual(steps[0], { write: '/etc/apt/sources.list.d/bookworm-backports.list', text: 'deb http://one.example/debian bookworm-backports main\n' });
});
