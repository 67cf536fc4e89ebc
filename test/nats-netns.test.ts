/**
 * Nothing assumes one host: each stage process runs in a network namespace of its own, reaching
 * the NATS server only across a bridge (as it would across a network), never through the
 * orchestrator's loopback. Needs root for `ip netns`: skipped with the reason otherwise, and
 * failing under CI (test/helpers/needs.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/train.js';
import { withNatsServer } from './helpers/nats-server.js';
import { data, smallConfig } from './helpers/fixtures.js';
import { envWith, exitOf, runId, processesWith, startStage, until, type Proc } from './helpers/stage-processes.js';
import { makeHosts, netnsUnavailable } from './helpers/netns.js';
import { testNeeding } from './helpers/needs.js';

const TOKEN = 'netns-token-7c1e4b93';
const missing = netnsUnavailable();


testNeeding(missing, 'stages in three network namespaces train with an orchestrator in a fourth, over a bridge', {}, async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-netns-'));
  const run = runId('netns-run');
  const hosts = makeHosts(3);
  const stages: Proc[] = [];
  try {
    const env = envWith({ SYNTHGRAD_NATS_TOKEN: TOKEN });
    // a namespace does not see this one's loopback
    await withNatsServer({ token: TOKEN }, async (loopback) => {
      const cut = startStage(loopback.url, run, 0, env, hosts.prefix(0));
      assert.equal(await exitOf(cut, 30_000), 1);
      assert.match(cut.stderr(), /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*is nats-server running there\?/);
    });
    await withNatsServer({ host: hosts.gateway, token: TOKEN }, async (server) => {
      assert.equal(server.url, `nats://${hosts.gateway}:${server.port}`);
      for (let k = 0; k < 3; k++) stages.push(startStage(server.url, run, k, env, hosts.prefix(k)));
      await until(() => stages.every((p) => /connected/.test(p.stderr())), 30_000, 'the stages to connect across the bridge');
      const config = smallConfig({ mode: 'cdni', train: { schedule: 'lockstep', maxSteps: 20 } });
      const summary = await train({ ...config, out: join(root, 'run') }, {
        data: data(),
        nats: { stages: 'join', url: server.url, runId: run, credentials: { token: TOKEN }, joinTimeoutMs: 30_000 },
      });
      assert.equal(summary.steps, 20);
      assert.equal(summary.transport?.stages, 'join');
      for (const s of summary.perStage) assert.equal(s.updates, 20);
      assert.ok(summary.testAccuracy! > 0.2, `test accuracy ${summary.testAccuracy}`);
      for (const p of stages) assert.equal(await exitOf(p, 10_000), 0, p.stderr());
    });
  } finally {
    await Promise.all(stages.map((p) => exitOf(p, 5_000)));
    hosts.remove();
    rmSync(root, { recursive: true, force: true });
  }
  await until(() => processesWith('stage --nats ', ` --run ${run} `).length === 0, 10_000, 'the stage processes to exit');
});
