import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

test('profile-train writes one CPU profile per stage worker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-prof-'));
  try {
    const script = fileURLToPath(new URL('../scripts/profile-train.js', import.meta.url));
    const out = join(dir, 'run');
    const r = spawnSync(process.execPath, [script, '--out', out, '--', '--max-steps', '5', '--batch-size', '32'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const files = readdirSync(join(out, 'profiles')).sort();
    assert.deepEqual(files, ['stage-0.cpuprofile', 'stage-1.cpuprofile', 'stage-2.cpuprofile', 'stage-3.cpuprofile']);
    const profile = JSON.parse(readFileSync(join(out, 'profiles', files[0]), 'utf8'));
    assert.ok(profile.nodes.length > 10 && profile.samples.length > 0);
    // the stage's own code shows up in its profile
    assert.ok(profile.nodes.some((n: { callFrame: { url: string } }) => n.callFrame.url.includes('stage/stage.js')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
