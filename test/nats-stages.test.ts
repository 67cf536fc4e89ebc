/**
 * Stages as separate processes over NATS: the same runs as with worker threads, started the way
 * a user would on several machines (nats-server, `synthgrad stage` per stage, `synthgrad train
 * --transport nats`), plus failures: a killed stage, missing credentials, hostile messages, stages
 * that never join. Every test starts its own loopback nats-server and leaves no process behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { train } from '../src/train.js';
import { decodeStageState, type StageState } from '../src/stage/stage-state.js';
import type { Manifest } from '../src/checkpoint/manifest.js';
import { encodeMessage } from '../src/transport/nats/codec.js';
import { subject, SENDER_HEADER } from '../src/transport/nats/nats-channel.js';
import { connectNats } from '../src/transport/nats/nats-connect.js';
import { TransportError } from '../src/transport/nats/nats-errors.js';
import { withNatsServer } from './helpers/nats-server.js';
import { data, fourStages, smallConfig } from './helpers/fixtures.js';
import { envWith, exitOf, runId, processesWith, runCli, startStage, until, type Proc } from './helpers/stage-processes.js';

const TOKEN = 'test-token-5f2a9c81d4';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'synthgrad-nats-'));
}

function checkpointStates(run: string): StageState[] {
  const m = JSON.parse(readFileSync(join(run, 'checkpoint', 'manifest.json'), 'utf8')) as Manifest;
  return m.stages.map((s) => {
    const file = join(run, 'checkpoint', s.file);
    return decodeStageState(readFileSync(file), file);
  });
}

function metricLines(run: string): Record<string, unknown>[] {
  return readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** No stage process of `run` is left (they exit on their own after the run). */
async function assertNoStageProcesses(run: string): Promise<void> {
  await until(() => processesWith(`stage --nats `, ` --run ${run} `).length === 0, 10_000, `the stage processes of run ${run} to exit`);
}

async function stopAll(procs: Proc[]): Promise<void> {
  await Promise.all(procs.map((p) => exitOf(p, 5_000)));
}

test('several machines, simulated: nats-server with a token, synthgrad stage x4, synthgrad train --transport nats', async () => {
  const root = tempDir();
  const run = runId('multi-host-1');
  const stages: Proc[] = [];
  try {
    await withNatsServer({ token: TOKEN }, async (server) => {
      const env = envWith({ SYNTHGRAD_NATS_TOKEN: TOKEN });
      for (let k = 0; k < 4; k++) stages.push(startStage(server.url, run, k, env));
      await until(() => stages.every((p) => /connected/.test(p.stderr())), 30_000, 'the stages to connect');
      const configFile = join(root, 'four-stages.json');
      writeFileSync(configFile, JSON.stringify(fourStages));
      const out = join(root, 'run');
      const orchestrator = runCli(['train', '--config', configFile, '--transport', 'nats', '--nats', server.url, '--run', run, '--join-timeout', '30', '--out', out], env);
      const code = await exitOf(orchestrator, 120_000);
      assert.equal(code, 0, orchestrator.stderr());
      assert.match(orchestrator.stdout(), /4 stages on wasm/);
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
      assert.equal(summary.stages, 4);
      assert.equal(summary.steps, 60);
      assert.ok(summary.testAccuracy > 0.2, `test accuracy ${summary.testAccuracy} (chance is 0.1)`);
      assert.equal(summary.transport.kind, 'nats');
      assert.equal(summary.transport.stages, 'join');
      assert.equal(summary.transport.runId, run);
      for (const s of summary.perStage) assert.equal(s.updates, 60);
      // the same outputs as a threaded run
      for (const file of ['config.json', 'metrics.jsonl', 'trace.json', 'report.html', 'checkpoint/manifest.json']) readFileSync(join(out, file));
      // the token never shows in the logs or the outputs
      assert.ok(!orchestrator.stderr().includes(TOKEN) && !JSON.stringify(summary).includes(TOKEN));
      for (const p of stages) assert.equal(await exitOf(p, 10_000), 0, p.stderr());
    });
  } finally {
    await stopAll(stages);
    rmSync(root, { recursive: true, force: true });
  }
  await assertNoStageProcesses(run);
});

test('lockstep over NATS (one process per stage) gives bit-identical weights to lockstep over threads', async () => {
  const root = tempDir();
  const run = runId('lockstep-same');
  try {
    await withNatsServer({}, async (server) => {
      const config = smallConfig({ mode: 'cdni', train: { schedule: 'lockstep', maxSteps: 20, updateProbability: 0.5, seed: 11 } });
      const threads = await train({ ...config, out: join(root, 'threads') }, { data: data() });
      const processes = await train({ ...config, out: join(root, 'processes') }, { data: data(), nats: { stages: 'spawn', url: server.url, runId: run, credentials: {} } });
      assert.equal(processes.transport?.stages, 'spawn');
      assert.equal(threads.transport, undefined);
      const a = checkpointStates(join(root, 'threads'));
      const b = checkpointStates(join(root, 'processes'));
      assert.equal(a.length, 3);
      for (let s = 0; s < a.length; s++) {
        assert.deepEqual(b[s].weights, a[s].weights, `stage ${s} weights`);
        assert.deepEqual(b[s].optimizer, a[s].optimizer, `stage ${s} optimizer`);
        assert.deepEqual(b[s].synthesizer, a[s].synthesizer, `stage ${s} synthesizer`);
      }
      assert.equal(processes.testAccuracy, threads.testAccuracy);
      assert.equal(processes.testLoss, threads.testLoss);
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  await assertNoStageProcesses(run);
});

test('a stage process killed with SIGKILL is noticed by its missing heartbeats, replaced here from the checkpoint, and the run finishes', async () => {
  const root = tempDir();
  const run = runId('killed-stage');
  const stages: Proc[] = [];
  try {
    await withNatsServer({}, async (server) => {
      const env = envWith();
      for (let k = 0; k < 3; k++) stages.push(startStage(server.url, run, k, env));
      await until(() => stages.every((p) => /connected/.test(p.stderr())), 30_000, 'the stages to connect');
      const config = smallConfig({ mode: 'cdni', train: { schedule: 'lockstep', maxSteps: 100, checkpointEvery: 30 } });
      let killed = false;
      const summary = await train({ ...config, out: join(root, 'run') }, {
        data: data(),
        nats: { stages: 'join', url: server.url, runId: run, credentials: {}, livenessTimeoutMs: 2_000 },
        onProgress: (p) => {
          if (!killed && p.step >= 40) {
            killed = true;
            stages[1].child.kill('SIGKILL'); // not a child of the orchestrator: only heartbeats tell
          }
        },
      });
      assert.ok(killed);
      assert.equal(summary.restarts, 1);
      assert.equal(summary.steps, 100);
      assert.ok(summary.lostSteps <= 1, `lost ${summary.lostSteps}`);
      assert.ok(summary.testAccuracy! > 0.3, `test accuracy ${summary.testAccuracy}`);
      const restart = metricLines(join(root, 'run')).find((l) => l.type === 'restart');
      assert.ok(restart, 'the restart is recorded in metrics.jsonl');
      assert.equal(restart.stage, 1);
      assert.equal(restart.from, 30);
      assert.match(String(restart.error), /no heartbeat/);
      assert.equal(await exitOf(stages[0], 10_000), 0);
      assert.equal(await exitOf(stages[2], 10_000), 0);
    });
  } finally {
    await stopAll(stages);
    rmSync(root, { recursive: true, force: true });
  }
  await assertNoStageProcesses(run);
});

test('a server with a token refuses an orchestrator and a stage without it, without showing the token', async () => {
  await withNatsServer({ token: TOKEN }, async (server) => {
    const config = smallConfig({ train: { maxSteps: 2 } });
    const root = tempDir();
    try {
      await assert.rejects(
        train({ ...config, out: join(root, 'run') }, { data: data(), nats: { stages: 'join', url: server.url, runId: 'no-auth', credentials: {} } }),
        (error: unknown) => {
          assert.ok(error instanceof TransportError);
          assert.match(error.message, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*[Aa]uthorization.*SYNTHGRAD_NATS_TOKEN/);
          return true;
        },
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    for (const env of [envWith(), envWith({ SYNTHGRAD_NATS_TOKEN: 'wrong-token-0000' })]) {
      const stage = startStage(server.url, 'no-auth', 0, env);
      assert.equal(await exitOf(stage, 30_000), 1);
      assert.match(stage.stderr(), /synthgrad stage: cannot connect to NATS .*[Aa]uthorization.*SYNTHGRAD_NATS_TOKEN/);
      assert.ok(!stage.stderr().includes(TOKEN) && !stage.stderr().includes('wrong-token-0000'));
    }
  });
});

test('stray, malformed, oversized and wrongly shaped messages are rejected and counted while the run goes on', async () => {
  const root = tempDir();
  const run = runId('hostile-1');
  try {
    await withNatsServer({}, async (server) => {
      const intruder: NatsConnection = await connectNats({ url: server.url, name: 'intruder' });
      try {
        const publish = (to: string, payload: Uint8Array, sender?: string): void => {
          const h = natsHeaders();
          if (sender !== undefined) h.set(SENDER_HEADER, sender);
          intruder.publish(to, payload, { headers: h });
        };
        const forward1 = subject(run, 1, 'forward');
        const wellFormed = (width: number) => encodeMessage({ kind: 'forward', step: 5, rows: 2, activations: new Float32Array(2 * width), labels: new Uint8Array(2) });
        let sent = false;
        const config = smallConfig({ mode: 'cdni', train: { schedule: 'async', window: 4, maxSteps: 40 } });
        const summary = await train({ ...config, out: join(root, 'run') }, {
          data: data(),
          nats: { stages: 'spawn', url: server.url, runId: run, credentials: {} },
          onProgress: (p) => {
            if (sent || p.step < 10) return;
            sent = true;
            publish(forward1, new Uint8Array([0xc1, 0xc1, 0xc1]), 'stage-0'); // not MessagePack
            publish(forward1, wellFormed(63), 'stage-0'); // stage 1 takes 64 values per row
            publish(forward1, wellFormed(64), 'stage-7'); // not a stage of this run
            publish(forward1, wellFormed(64)); // no sender
            publish(forward1, new Uint8Array(600_000), 'stage-0'); // above stage 1's limit
            publish(forward1, encodeMessage({ kind: 'forward', step: 1, rows: 1 }), 'stage-0'); // missing fields
            publish(subject(run, 0, 'backward'), encodeMessage({ kind: 'backward', step: 987654, gradient: new Float32Array(64), synthetic: true }), 'stage-1'); // never sent up
            publish(subject(run, 1, 'control'), encodeMessage({ kind: 'rewire', ports: {} }), 'orchestrator'); // ports cannot travel
            publish(subject(run, 1, 'stats'), new Uint8Array([0xc1, 0xc1, 0xc1]), 'stage-1'); // to the orchestrator
            publish(subject(run, 1, 'stats'), encodeMessage({ kind: 'heartbeat', stage: 1, instance: 'x' }), 'stage-9');
          },
        });
        assert.ok(sent);
        assert.equal(summary.steps, 40);
        assert.equal(summary.restarts, 0);
        assert.ok(summary.testAccuracy! > 0.2, `test accuracy ${summary.testAccuracy}`);
        const one = summary.perStage[1].rejected!;
        assert.equal(one.decode, 1);
        assert.equal(one.shape, 1);
        assert.equal(one.sender, 2);
        assert.equal(one.oversized, 1);
        assert.equal(one.invalid, 2); // the forward with missing fields, the rewire
        assert.deepEqual(summary.perStage[0].rejected, { step: 1 });
        assert.deepEqual(summary.perStage[2].rejected, {});
        assert.deepEqual(summary.transport!.rejected, { decode: 1, sender: 1 });
        for (const s of summary.perStage) assert.equal(s.updates, 40);
      } finally {
        await intruder.close();
      }
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  await assertNoStageProcesses(run);
});

test('synthgrad train --transport nats names the stages that did not join within --join-timeout and exits non-zero', async () => {
  const root = tempDir();
  const run = runId('half-joined');
  const stages: Proc[] = [];
  try {
    await withNatsServer({}, async (server) => {
      const env = envWith();
      stages.push(startStage(server.url, run, 0, env), startStage(server.url, run, 2, env));
      await until(() => stages.every((p) => /connected/.test(p.stderr())), 30_000, 'the stages to connect');
      const configFile = join(root, 'four-stages.json');
      writeFileSync(configFile, JSON.stringify(fourStages));
      const out = join(root, 'run');
      const orchestrator = runCli(['train', '--config', configFile, '--transport', 'nats', '--nats', server.url, '--run', run, '--join-timeout', '4', '--out', out], env);
      const code = await exitOf(orchestrator, 60_000);
      assert.equal(code, 1, orchestrator.stderr());
      const stderr = orchestrator.stderr();
      assert.match(stderr, new RegExp(`synthgrad: stages 1, 3 of 4 did not join run ${run} within 4 s \\(start each with: synthgrad stage --nats nats://127\\.0\\.0\\.1:\\d+ --run ${run} --stage K\\)`));
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      // the stages that did join are told to leave
      for (const p of stages) assert.equal(await exitOf(p, 10_000), 0, p.stderr());
    });
  } finally {
    await stopAll(stages);
    rmSync(root, { recursive: true, force: true });
  }
  await assertNoStageProcesses(run);
});

test('synthgrad train --placement process: a local nats-server and one child per stage; a child killed with SIGKILL is replaced', async () => {
  const root = tempDir();
  const run = runId('placement-process');
  try {
    const configFile = join(root, 'four-stages.json');
    writeFileSync(configFile, JSON.stringify(fourStages));
    const out = join(root, 'run');
    const args = ['train', '--config', configFile, '--placement', 'process', '--run', run, '--schedule', 'lockstep', '--max-steps', '150', '--checkpoint-every', '30'];
    const orchestrator = runCli([...args, '--out', out, '--log-level', 'debug'], envWith());
    await until(() => /"step":30,"folder":"step-00000030","msg":"checkpoint written"/.test(orchestrator.stderr()), 60_000, 'the checkpoint of step 30');
    const [pid] = processesWith(`stage --nats `, ` --run ${run} --stage 2 `);
    assert.ok(pid, 'stage 2 runs in a process of its own');
    process.kill(pid, 'SIGKILL');
    assert.equal(await exitOf(orchestrator, 120_000), 0, orchestrator.stderr().slice(-3000));
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.restarts, 1);
    assert.equal(summary.steps, 150);
    assert.equal(summary.transport.stages, 'spawn');
    assert.equal(summary.transport.localServer, true);
    const restart = metricLines(out).find((l) => l.type === 'restart');
    assert.equal(restart?.stage, 2);
    assert.match(String(restart?.error), /its process was killed \(SIGKILL\)/);
    assert.ok((restart?.from as number) >= 30);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  await assertNoStageProcesses(run);
});
