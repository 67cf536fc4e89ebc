/**
 * Checks the system tools of scripts/system-requirements.ts and, where it can (root on Debian),
 * installs the missing ones with apt-get. Everything the machine is asked goes through a `System`,
 * so tests can give it a fake PATH, a non-root user or a recording apt-get.
 */
import { delimiter, join } from 'node:path';
import type { Requirement } from './system-requirements.js';

export interface System {
  /** The PATH to search for commands. */
  path: string;
  isRoot: boolean;
  /** Whether this is Debian (or a derivative): /etc/debian_version exists. */
  isDebian: boolean;
  /** VERSION_CODENAME from /etc/os-release, or null when there is none. */
  codename: string | null;
  /** Whether `path` exists; with `executable`, whether it is an executable file. */
  exists(path: string, executable?: boolean): boolean;
  /** The text of every apt source file (/etc/apt/sources.list and sources.list.d's .list and .sources files). */
  aptSources(): string;
  writeFile(path: string, text: string): void;
  /** Runs `command` with `args` (output shown), returning its exit status. */
  run(command: string, args: string[]): number;
}

/** A step of an installation: an apt source to write, or a command to run. */
export type Step = { write: string; text: string } | { run: string; args: string[] };

/** Searched after PATH: Debian puts some tools (nats-server, ip) in sbin, not on every user's PATH. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];
const SOURCES_DIR = '/etc/apt/sources.list.d';

/** The executable `name` on PATH or in the sbin folders, or null. */
export function findCommand(name: string, system: System): string | null {
  const dirs = system.path.split(delimiter).filter((d) => d !== '');
  for (const dir of [...dirs, ...EXTRA_DIRS]) {
    const path = join(dir, name);
    if (system.exists(path, true)) return path;
  }
  return null;
}

export function isPresent(requirement: Requirement, system: System): boolean {
  const { detect } = requirement;
  if ('command' in detect) return findCommand(detect.command, system) !== null;
  return detect.files.some((f) => system.exists(f));
}

export function missingTools(requirements: Requirement[], system: System): Requirement[] {
  return requirements.filter((r) => !isPresent(r, system));
}

/** Why the missing tools cannot be installed here, or null when they can (root, Debian, apt-get). */
export function cannotInstall(system: System): string | null {
  if (!system.isDebian) return 'this is not Debian (no /etc/debian_version), so their package names may differ';
  if (findCommand('apt-get', system) === null) return 'apt-get was not found';
  if (!system.isRoot) return 'npm test is not running as root';
  return null;
}

/** Whether some apt source already provides `suite` (one-line `deb URI SUITE ...` or deb822 `Suites: ... SUITE`). */
export function suiteConfigured(suite: string, system: System): boolean {
  const escaped = suite.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const oneLine = new RegExp(`^\\s*deb\\s+(\\[[^\\]]*\\]\\s+)?\\S+\\s+${escaped}(\\s|$)`, 'm');
  const deb822 = new RegExp(`^\\s*Suites:.*\\s${escaped}(\\s|$)`, 'm');
  const text = system.aptSources();
  return oneLine.test(text) || deb822.test(text);
}

/**
 * The URI of the apt source that serves the system's own suite (its codename), one-line or deb822:
 * a suite added beside it (backports) comes from the same mirror, so no host is written here.
 */
export function systemMirror(system: System): string | null {
  if (system.codename === null) return null;
  const text = system.aptSources();
  for (const line of text.split('\n')) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m && m[2] === system.codename) return m[1];
  }
  for (const block of text.split(/\n\s*\n/)) {
    const uris = /^\s*URIs:\s*(\S+)/m.exec(block);
    const suites = /^\s*Suites:(.*)$/m.exec(block);
    if (uris && suites && suites[1].trim().split(/\s+/).includes(system.codename)) return uris[1];
  }
  return null;
}

function withCodename(text: string, system: System): string {
  return text.replaceAll('{codename}', system.codename ?? 'CODENAME').replaceAll('{mirror}', systemMirror(system) ?? 'MIRROR');
}

/** The steps that install `missing`: apt sources for suites not yet configured, apt-get update, then one install per suite. */
export function installSteps(missing: Requirement[], system: System): Step[] {
  const steps: Step[] = [];
  const suites = new Map<string, string[]>(); // '' is the system's own suite
  for (const { apt } of missing) {
    const suite = apt.suite === undefined ? '' : withCodename(apt.suite, system);
    if (apt.source !== undefined) {
      const file = join(SOURCES_DIR, `${suite}.list`);
      const text = `${withCodename(apt.source, system)}\n`;
      if (!suiteConfigured(suite, system) && !steps.some((s) => 'write' in s && s.write === file)) steps.push({ write: file, text });
    }
    suites.set(suite, [...(suites.get(suite) ?? []), apt.package]);
  }
  steps.push({ run: 'apt-get', args: ['update', '-qq'] });
  for (const [suite, packages] of suites) {
    const target = suite === '' ? [] : ['-t', suite];
    steps.push({ run: 'apt-get', args: ['install', '-y', '-qq', ...target, ...packages] });
  }
  return steps;
}

function shell(step: Step): string {
  return 'write' in step ? `echo '${step.text.trimEnd()}' > ${step.write}` : [step.run, ...step.args.filter((a) => a !== '-qq')].join(' ');
}

function describe(requirement: Requirement): string {
  const { detect } = requirement;
  const where = 'files' in detect ? ` (${detect.files.join(' or ')})` : '';
  return `  - ${requirement.name}${where}, for ${requirement.why}: Debian package ${requirement.apt.package}`;
}

/** The message for missing tools that cannot be installed here: what is missing and the commands that install it. */
export function installMessage(missing: Requirement[], reason: string, system: System): string {
  return [
    'npm test needs system tools that are missing here:',
    ...missing.map(describe),
    `They were not installed automatically: ${reason}. Install them as root with:`,
    ...installSteps(missing, system).map((s) => `  ${shell(s)}`),
  ].join('\n');
}

export class SetupError extends Error {}

/**
 * Makes sure every requirement is present: installs the missing ones when it can, then checks
 * again. Returns the names installed; throws a SetupError naming what to install otherwise.
 */
export function ensureTools(requirements: Requirement[], system: System, log: (line: string) => void): string[] {
  const missing = missingTools(requirements, system);
  if (missing.length === 0) return [];
  const reason = cannotInstall(system);
  if (reason !== null) throw new SetupError(installMessage(missing, reason, system));
  log(`installing ${missing.map((r) => `${r.name} (Debian package ${r.apt.package})`).join(', ')} for the tests`);
  for (const step of installSteps(missing, system)) {
    if ('write' in step) {
      system.writeFile(step.write, step.text);
      continue;
    }
    const status = system.run(step.run, step.args);
    if (status !== 0) throw new SetupError(installMessage(missing, `\`${shell(step)}\` exited with status ${status}`, system));
  }
  const still = missingTools(missing, system);
  if (still.length > 0) {
    throw new SetupError(installMessage(still, `they are still missing after apt-get installed ${still.map((r) => r.apt.package).join(', ')}`, system));
  }
  return missing.map((r) => r.name);
}
