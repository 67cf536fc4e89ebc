/**
 * `npm test`'s pretest step (after the build): brings the system tools the tests need
 * (scripts/system-requirements.ts). Installs the missing ones with apt-get as root on Debian;
 * otherwise exits 1 with one message naming what to install.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirements } from './system-requirements.js';
import { ensureTools, SetupError, type System } from './system-tools.js';

function codename(): string | null {
  try {
    return /^VERSION_CODENAME=(.+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1].replace(/^"|"$/g, '') ?? null;
  } catch {
    return null;
  }
}

function exists(path: string, executable = false): boolean {
  if (!executable) return existsSync(path);
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function aptSources(): string {
  const dir = '/etc/apt/sources.list.d';
  const read = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');
  const parts = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(list|sources)$/.test(f)).map((f) => read(join(dir, f))) : [];
  return [read('/etc/apt/sources.list'), ...parts].join('\n');
}

const system: System = {
  path: process.env.PATH ?? '',
  isRoot: process.getuid?.() === 0,
  isDebian: existsSync('/etc/debian_version'),
  codename: codename(),
  exists,
  aptSources,
  writeFile: (path, text) => writeFileSync(path, text),
  run: (command, args) =>
    spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status ?? 1,
};

try {
  const installed = ensureTools(requirements, system, (line) => console.log(`pretest: ${line}`));
  const names = requirements.map((r) => r.name).join(', ');
  console.log(installed.length > 0 ? `pretest: installed ${installed.join(', ')}; all present: ${names}` : `pretest: system tools present: ${names}`);
} catch (error) {
  if (!(error instanceof SetupError)) throw error;
  console.error(error.message);
  process.exit(1);
}
