/**
 * Trains with a V8 CPU profile per stage worker: `<out>/profiles/stage-S.cpuprofile`, one per
 * stage, for flame graphs (Chrome DevTools > Performance > Load profile, or speedscope).
 *
 *   npm run build
 *   node dist/scripts/profile-train.js --out runs/profiled -- --preset mnist-cdni --max-steps 300
 *
 * Everything after `--` goes to `synthgrad train` as it is.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { CPU_PROFILE_ENV } from '../src/runtime/cpu-profile.js';

const program = new Command('profile-train')
  .description('train with one .cpuprofile per stage worker')
  .requiredOption('--out <dir>', 'run directory (new or empty); profiles go to <out>/profiles')
  .argument('[train-args...]', 'flags for synthgrad train, after --')
  .action((trainArgs: string[], flags: { out: string }) => {
    const out = resolve(flags.out);
    const profiles = join(out, 'profiles');
    const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
    const result = spawnSync(process.execPath, [cli, 'train', '--out', out, ...trainArgs], {
      stdio: 'inherit',
      env: { ...process.env, [CPU_PROFILE_ENV]: profiles },
    });
    if (result.status !== 0) process.exit(result.status ?? 1);
    for (const file of readdirSync(profiles).sort()) process.stdout.write(`${join(profiles, file)}\n`);
  });

program.parse(process.argv);
