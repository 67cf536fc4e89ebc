/**
 * `npm test`'s pretest step (after the build): brings the system tools the tests need
 * (scripts/system-requirements.ts). Installs the missing ones with apt-get as root on Debian;
 * otherwise exits 1 with one message naming what to install.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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

const system: System = {
  path: process.env.PATH ?? '',
  isRoot: process.getuid?.() === 0,
  isDebian: existsSync('/etc/debian_version'),
  codename: codename(),
  exists,
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
