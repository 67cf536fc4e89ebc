/**
 * The NATS server dies in the middle of a run (SIGKILL) and comes back on the same port: the
 * orchestrator and the stage processes reconnect, batches lost meanwhile are found by step number
 * and abandoned at every stage, and the run finishes, evaluates and says what it lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/train.js';
import { withNatsServer } from './helpers/nats-server.js';
import { data, fourStages, smallConfig } from './helpers/fixtures.js';
import { processesWith, until, runId } from './helpers/stage-processes.js';
import { validateConfig } from '../src/config/resolve.js';
import { pino } from 'pino';

/** Four stage processes, async, 300 steps, a checkpoint every 100. */
const config = validateConfig({ ...fourStages, train: { ...fourStages.train, maxSteps: 300, checkpointEvery: 100 } });

function metricLines(run: string): Record<string, unknown>[] {
  return readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('a NATS server killed mid-run (and again as evaluation begins) and restarted on the same port: everyone reconnects, lost batches are abandoned and counted, the run finishes and evaluates', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-nats-restart-'));
  const run = runId('server-restart');
  try {
    await withNatsServer({}, async (server) => {
      const port = server.port;
      let killedAt = -1;
      let killedBeforeEvaluation = false;
      const restarts: Promise<void>[] = [];
      const killAndRestart = (): void => {
        process.kill(server.pid!, 'SIGKILL');
        restarts.push(new Promise((resolve) => setTimeout(resolve, 1_000)).then(() => server.restart()));
      };
      const summary = await train({ ...config, out: join(root, 'run') }, {
        data: data(),
        nats: { stages: 'spawn', url: server.url, runId: run, credentials: {}, livenessTimeoutMs: 5_000 },
        onProgress: (p) => {
          if (killedAt < 0 && p.step >= 50) {
            killedAt = p.step;
            killAndRestart();
          } else if (p.phase === 'evaluate' && !killedBeforeEvaluation) {
            // the statistics request and the evaluation batches that follow travel while it is away
            killedBeforeEvaluation = true;
            killAndRestart();
          }
        },
      });
      assert.ok(killedAt >= 50, 'the server was killed during training');
      assert.ok(killedBeforeEvaluation, 'and again before the evaluation');
      await Promise.all(restarts);
      assert.equal(server.port, port, 'the server came back on the same port');
      assert.equal(summary.steps, 300, 'every batch was fed');
      assert.equal(summary.stopped, false);
      assert.equal(summary.restarts, 0, 'no stage was taken for dead while the server was away');
      const t = summary.transport!;
      assert.ok(t.interruptions >= 2, `interruptions ${t.interruptions}`);
      assert.equal(summary.lostSteps, t.lostInTransit, 'every lost batch was lost in transit');
      assert.ok(t.lostInTransit <= 4 * 2, `lost ${t.lostInTransit}: at most the batches in flight around the outage`);
      // accounting: the last stage trained every batch except (some of) the lost ones
      const last = summary.perStage[3];
      assert.ok(last.updates >= 300 - t.lostInTransit && last.updates <= 300, `last stage updates ${last.updates}, lost ${t.lostInTransit}`);
      assert.ok(summary.testAccuracy! > 0.3, `test accuracy ${summary.testAccuracy}`);
      assert.ok(summary.valAccuracy! > 0.3, `validation accuracy ${summary.valAccuracy}`);
      const lines = metricLines(join(root, 'run'));
      const interruption = lines.find((l) => l.type === 'interruption');
      assert.ok(interruption, 'the interruption is in metrics.jsonl');
      assert.match(String(interruption.why), /NATS server was unreachable for \d+\.\d s/);
      const lost = lines.filter((l) => l.type === 'lost').flatMap((l) => l.steps as number[]);
      assert.equal(lost.length, t.lostInTransit, 'each lost batch is named in metrics.jsonl');
      for (const step of lost) assert.ok(step >= killedAt - 8 && step < killedAt + 8, `lost step ${step} is near the outage (step ${killedAt})`);
      const why = lines.filter((l) => l.type === 'lost').map((l) => l.why).join('; ');
      console.log(`server killed at step ${killedAt} and before the evaluation: ${t.interruptions} interruptions (first: ${interruption.why}); lost ${t.lostInTransit} (steps ${lost.join(', ')}: ${why}), resent ${t.resent}; wall ${summary.wallSeconds.toFixed(1)} s, test accuracy ${summary.testAccuracy}`);
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  await until(() => processesWith('stage --nats ', ` --run ${run} `).length === 0, 10_000, 'the stage processes to exit');
});

test('--placement process: the private nats-server killed mid-run is started again on its port and the run goes on', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-nats-local-'));
  const run = runId('local-server-restart');
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  try {
    let killed = 0;
    const summary = await train({ ...config, out: join(root, 'run'), train: { ...config.train, maxSteps: 150 } }, {
      data: data(),
      logger,
      nats: { stages: 'spawn', runId: run },
      onProgress: (p) => {
        if (killed || p.step < 50) return;
        killed = lines.find((l) => l.msg === 'started 4 stage processes')?.serverPid as number;
        process.kill(killed, 'SIGKILL');
      },
    });
    assert.ok(killed > 0, 'the local server was killed');
    assert.equal(summary.steps, 150);
    assert.equal(summary.restarts, 0);
    assert.equal(summary.transport?.localServer, true);
    assert.ok(summary.transport!.interruptions >= 1, `interruptions ${summary.transport!.interruptions}`);
    assert.ok(summary.testAccuracy! > 0.3, `test accuracy ${summary.testAccuracy}`);
    assert.ok(lines.some((l) => /the local nats-server exited \(signal SIGKILL\); starting it again on port \d+/.test(String(l.msg))));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  await until(() => processesWith('stage --nats ', ` --run ${run} `).length === 0, 10_000, 'the stage processes to exit');
});

test('a NATS server that does not come back ends the run within reconnectTimeoutMs, with a message that says so, and the stage processes leave', async () => {
  const root = mkdtempSync(join(tmpdir(), 'synthgrad-nats-gone-'));
  const run = runId('server-gone');
  try {
    await withNatsServer({}, async (server) => {
      let killed = false;
      const config3 = smallConfig({ mode: 'cdni', train: { schedule: 'async', window: 4, maxSteps: 300 } });
      await assert.rejects(
        train({ ...config3, out: join(root, 'run') }, {
          data: data(),
          nats: { stages: 'spawn', url: server.url, runId: run, credentials: {}, reconnectTimeoutMs: 3_000 },
          onProgress: (p) => {
            if (killed || p.step < 20) return;
            killed = true;
            process.kill(server.pid!, 'SIGKILL');
          },
        }),
        (error: Error) => {
          assert.match(error.message, /the NATS server at nats:\/\/127\.0\.0\.1:\d+ has been unreachable for \d+ s \(the limit is 3 s\): no stage can be reached/);
          assert.match(error.message, /is nats-server running at that address\?\); the run stopped/);
          return true;
        },
      );
      assert.ok(killed);
      const summary = JSON.parse(readFileSync(join(root, 'run', 'summary.json'), 'utf8'));
      assert.equal(summary.stopped, true);
      assert.match(summary.error, /unreachable/);
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  await until(() => processesWith('stage --nats ', ` --run ${run} `).length === 0, 15_000, 'the stage processes to exit');
});
