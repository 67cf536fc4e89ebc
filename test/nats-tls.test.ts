/**
 * NATS over TLS with a throwaway CA made by openssl: the orchestrator and the stage processes take
 * the CA (and, when the server verifies clients, their certificate) from the environment and train
 * over TLS; a client that does not trust the CA, or shows no certificate, is refused with a message
 * that says which variable to set.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withNatsServer } from './helpers/nats-server.js';
import { fourStages } from './helpers/fixtures.js';
import { envWith, exitOf, runId, processesWith, runCli, startStage, until, type Proc } from './helpers/stage-processes.js';
import { makeCertificates, openssl } from './helpers/tls-certs.js';
import { missingTool, testNeeding } from './helpers/needs.js';

const bin = openssl();
const missing = bin === undefined ? missingTool('openssl', 'openssl') : null;


testNeeding(missing, 'lockstep training over TLS (server verifies clients): CA and client certificate from the environment; untrusting or certificate-less clients are refused', {}, async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-nats-tls-'));
  const run = runId('tls-run');
  const stages: Proc[] = [];
  try {
    const certs = makeCertificates(root, bin!);
    await withNatsServer({ tls: { ...certs.server, ca: certs.ca, verifyClients: true } }, async (server) => {
      assert.match(server.url, /^tls:\/\/127\.0\.0\.1:\d+$/);
      // refused: no CA (the system's CAs do not know this one)
      const untrusting = startStage(server.url, run, 0, envWith({ SYNTHGRAD_NATS_TLS_CERT: certs.client.cert, SYNTHGRAD_NATS_TLS_KEY: certs.client.key }));
      assert.equal(await exitOf(untrusting, 30_000), 1);
      assert.match(untrusting.stderr(), /synthgrad stage: cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: .*certificate.*set SYNTHGRAD_NATS_TLS_CA/);
      // refused: the CA but no client certificate
      const anonymous = startStage(server.url, run, 0, envWith({ SYNTHGRAD_NATS_TLS_CA: certs.ca }));
      assert.equal(await exitOf(anonymous, 30_000), 1);
      assert.match(anonymous.stderr(), /synthgrad stage: cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: .*set SYNTHGRAD_NATS_TLS_CERT and SYNTHGRAD_NATS_TLS_KEY/);

      const env = envWith({ SYNTHGRAD_NATS_TLS_CA: certs.ca, SYNTHGRAD_NATS_TLS_CERT: certs.client.cert, SYNTHGRAD_NATS_TLS_KEY: certs.client.key });
      for (let k = 0; k < 4; k++) stages.push(startStage(server.url, run, k, env));
      await until(() => stages.every((p) => /connected/.test(p.stderr())), 30_000, 'the stages to connect over TLS');
      const configFile = join(root, 'four-stages.json');
      writeFileSync(configFile, JSON.stringify(fourStages));
      const out = join(root, 'run');
      const args = ['train', '--config', configFile, '--schedule', 'lockstep', '--max-steps', '20', '--transport', 'nats', '--nats', server.url, '--run', run, '--join-timeout', '30', '--out', out];
      const orchestrator = runCli(args, env);
      assert.equal(await exitOf(orchestrator, 120_000), 0, orchestrator.stderr());
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
      assert.equal(summary.steps, 20);
      assert.equal(summary.schedule, 'lockstep');
      assert.match(summary.transport.server, /^tls:\/\//);
      for (const s of summary.perStage) assert.equal(s.updates, 20);
      for (const p of stages) assert.equal(await exitOf(p, 10_000), 0, p.stderr());

      // the orchestrator without the CA is refused the same way
      const refused = runCli(args.map((a) => (a === run ? `${run}-2` : a === out ? join(root, 'run-2') : a)), envWith());
      assert.equal(await exitOf(refused, 60_000), 1);
      assert.match(refused.stderr(), /synthgrad: cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: .*certificate.*set SYNTHGRAD_NATS_TLS_CA/);
    });
  } finally {
    await Promise.all(stages.map((p) => exitOf(p, 5_000)));
    rmSync(root, { recursive: true, force: true });
  }
  await until(() => processesWith('stage --nats ', ` --run ${run} `).length === 0, 10_000, 'the stage processes to exit');
});
