import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuthorizationError, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { DataMessage, ForwardMessage } from '../src/stage/protocol.js';
import { decodeMessage, DecodeError, encodeMessage, ValidationError } from '../src/transport/nats/codec.js';
import { formatChunkHeader, parseChunkHeader, Reassembler, splitPayload } from '../src/transport/nats/chunking.js';
import { NatsChannel, subject, CHUNK_HEADER, type NatsChannelOptions, type RejectReason } from '../src/transport/nats/nats-channel.js';
import { connectNats, credentialsFromEnv, redact, tlsEnv, tlsFromEnv } from '../src/transport/nats/nats-connect.js';
import { startNatsServer, type NatsServer } from '../src/transport/nats/nats-server.js';
import { validateDataMessage } from '../src/transport/nats/message-validators.js';
import { waitFor, withConnections, withNatsServer } from './helpers/nats-server.js';

function forwardMessage(step: number, rows = 128, width = 256): ForwardMessage {
  const activations = new Float32Array(rows * width);
  for (let i = 0; i < activations.length; i += 1) activations[i] = Math.sin(step * 7919 + i * 0.37) * 1e3;
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i += 1) labels[i] = (step + i) % 10;
  return { kind: 'forward', step, rows, activations, labels };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i += 1) if (x[i] !== y[i]) return false;
  return true;
}

/** A channel pair on one subject: `tx` on connection a, `rx` on connection b, collecting what arrives. */
async function pair(
  a: NatsConnection,
  b: NatsConnection,
  name: string,
  rxOptions: Partial<NatsChannelOptions<DataMessage>> = {},
  txOptions: Partial<NatsChannelOptions<DataMessage>> = {},
) {
  const s = subject(name, 0, 'forward');
  const rejects: [RejectReason, string][] = [];
  const rx = new NatsChannel<DataMessage>({
    connection: b,
    subject: s,
    validate: validateDataMessage,
    onReject: (reason, detail) => rejects.push([reason, detail]),
    ...rxOptions,
  });
  const tx = new NatsChannel<DataMessage>({ connection: a, subject: s, ...txOptions });
  const got: DataMessage[] = [];
  rx.onMessage((m) => got.push(m));
  await rx.flush();
  return { s, rx, tx, got, rejects };
}

describe('codec', () => {
  test('a forward message of 128x256 floats and its labels round-trips exactly, as typed arrays', () => {
    const message = forwardMessage(3);
    message.activations[0] = Number.NaN;
    message.activations[1] = -0;
    message.activations[2] = Number.POSITIVE_INFINITY;
    message.activations[3] = 1.401298464324817e-45; // smallest subnormal
    message.eval = { split: 'test', index: 4 };
    const bytes = encodeMessage(message);
    // 4 bytes per float plus a few dozen bytes of framing: no per-element encoding.
    assert.ok(bytes.byteLength < 128 * 256 * 4 + 128 + 100, `encoded ${bytes.byteLength} bytes`);
    const decoded = decodeMessage<ForwardMessage>(bytes, validateDataMessage);
    assert.ok(decoded.activations instanceof Float32Array);
    assert.ok(decoded.labels instanceof Uint8Array);
    assert.ok(sameBits(decoded.activations, message.activations));
    assert.deepEqual([...decoded.labels], [...message.labels]);
    assert.deepEqual(decoded.eval, { split: 'test', index: 4 });
    assert.equal(decoded.kind, 'forward');
    assert.equal(decoded.step, 3);
    assert.equal(decoded.rows, 128);
    // Decoded arrays own an aligned buffer of their own (transferable to a worker).
    assert.equal(decoded.activations.byteOffset, 0);
    assert.equal(decoded.activations.buffer.byteLength, decoded.activations.byteLength);
    assert.notEqual(decoded.activations.buffer, bytes.buffer);
    // A backward message with a null gradient.
    const backward = decodeMessage<DataMessage>(encodeMessage({ kind: 'backward', step: 1, gradient: null, synthetic: true }), validateDataMessage);
    assert.deepEqual(backward, { kind: 'backward', step: 1, gradient: null, synthetic: true });
    // The last stage's done, relayed down with its true gradient.
    const relayed = { kind: 'backward', step: 2, gradient: null, synthetic: false, done: [{ stage: 3, loss: 0.5, correct: 100, rows: 128 }] };
    assert.deepEqual(decodeMessage<DataMessage>(encodeMessage(relayed), validateDataMessage), relayed);
  });

  test('garbage fails with DecodeError, a bad shape with ValidationError', () => {
    assert.throws(() => decodeMessage(new Uint8Array([0xc1, 0xff, 0x00])), DecodeError);
    assert.throws(() => decodeMessage(new Uint8Array([0xdc, 0xff, 0xff])), DecodeError); // truncated array
    const good = encodeMessage({ kind: 'backward', step: 1, gradient: null, synthetic: false });
    const trailing = new Uint8Array(good.byteLength + 1);
    trailing.set(good);
    assert.throws(() => decodeMessage(trailing), DecodeError);
    assert.throws(() => decodeMessage(encodeMessage({ kind: 'forward', step: 1 }), validateDataMessage), ValidationError);
    assert.throws(() => decodeMessage(encodeMessage({ kind: 'nope' }), validateDataMessage), ValidationError);
    const relaying = (done: unknown) => encodeMessage({ kind: 'backward', step: 1, gradient: null, synthetic: false, done });
    assert.throws(() => decodeMessage(relaying({ stage: 3 }), validateDataMessage), /done must be a list/);
    assert.throws(() => decodeMessage(relaying([{ stage: 0 }]), validateDataMessage), /done\[\]\.stage must be a stage above 0/);
    assert.throws(() => decodeMessage(relaying([{ stage: 3, loss: 'x' }]), validateDataMessage), /done\[\]\.loss must be a finite number/);
    assert.throws(() => decodeMessage(relaying([{ stage: 3, who: 1 }]), validateDataMessage), /unexpected field "who" in done\[\]/);
    // A Float32Array whose byte length is not a multiple of 4 (typed-array extension, type code 7).
    assert.throws(() => decodeMessage(new Uint8Array([0xc7, 0x04, 0x74, 0x07, 1, 2, 3])), DecodeError);
  });
});

describe('chunking', () => {
  test('reassembles chunks in any order; rejects duplicates, bad lengths, oversized, stale and overflowing messages', () => {
    const payload = new Uint8Array(10_000).map((_, i) => (i * 31) % 251);
    const chunks = splitPayload(payload, 1_000, 'm1');
    assert.equal(chunks.length, 10);
    assert.deepEqual(parseChunkHeader(formatChunkHeader(chunks[3]!)), { id: 'm1', index: 3, count: 10, total: 10_000, chunkSize: 1_000 });
    assert.equal(parseChunkHeader('m1 10 10 10000 1000'), null); // index out of range
    assert.equal(parseChunkHeader('m1 0 3 10000 1000'), null); // count inconsistent

    let clock = 0;
    const r = new Reassembler({ maxMessageBytes: 20_000, maxBytesInFlight: 25_000, maxAgeMs: 1_000, now: () => clock });
    const order = [7, 2, 9, 0, 1, 8, 3, 5, 4, 6];
    let result;
    for (const i of order) result = r.accept('a', chunks[i]!, chunks[i]!.data);
    assert.equal(result?.status, 'complete');
    assert.deepEqual(result?.status === 'complete' ? result.payload : null, payload);
    assert.equal(r.bytesInFlight, 0);

    // Duplicate chunk.
    const dup = splitPayload(payload, 1_000, 'm2');
    r.accept('a', dup[0]!, dup[0]!.data);
    assert.equal(r.accept('a', dup[0]!, dup[0]!.data).status, 'dropped');
    assert.equal(r.accept('a', dup[1]!, dup[1]!.data).status, 'ignored'); // rest of a dropped message
    // Wrong length.
    const bad = splitPayload(payload, 1_000, 'm3');
    assert.equal(r.accept('a', bad[0]!, bad[0]!.data.subarray(1)).status, 'dropped');
    assert.equal(r.dropped.chunk, 2);
    // Oversized.
    const big = splitPayload(new Uint8Array(30_000), 1_000, 'm4');
    assert.equal(r.accept('a', big[5]!, big[5]!.data).status, 'dropped');
    assert.equal(r.dropped.oversized, 1);
    // Stale partial message.
    const stale = splitPayload(payload, 1_000, 'm5');
    r.accept('a', stale[0]!, stale[0]!.data);
    clock += 1_500;
    r.sweep();
    assert.equal(r.dropped.expired, 1);
    assert.equal(r.pending, 0);
    // Overflow: two 10 kB partials fit in 25 kB, a third pushes the oldest out.
    const parts = ['o1', 'o2', 'o3'].map((id) => splitPayload(payload, 1_000, id));
    for (const p of parts) r.accept('a', p[0]!, p[0]!.data);
    assert.equal(r.dropped.overflow, 1);
    assert.equal(r.bytesInFlight, 20_000);
    // Same id from another sender is another message.
    assert.equal(r.accept('b', parts[1]![0]!, parts[1]![0]!.data).status, 'partial');
  });
});

describe('NatsChannel over a server with max_payload 64 KiB', () => {
  let server: NatsServer;
  let a: NatsConnection;
  let b: NatsConnection;
  before(async () => {
    server = await startNatsServer({ maxPayload: 64 * 1024 });
    a = await connectNats({ url: server.url, name: 'test-a' });
    b = await connectNats({ url: server.url, name: 'test-b' });
    assert.equal(a.info?.max_payload, 64 * 1024);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.stop();
  });

  test('a 3 MB message arrives intact (chunked) and in order with other messages', async () => {
    const { rx, tx, got, rejects } = await pair(a, b, 'big');
    const big: ForwardMessage = forwardMessage(2, 3072, 256); // 3 MiB of floats
    tx.send(forwardMessage(1, 4, 8));
    tx.send(big);
    tx.send({ kind: 'backward', step: 3, gradient: new Float32Array([1, 2, 3]), synthetic: true });
    tx.send(forwardMessage(4, 4, 8));
    await tx.flush();
    await waitFor(() => got.length === 4, 10_000, '4 messages');
    assert.deepEqual(got.map((m) => m.step), [1, 2, 3, 4]);
    const received = got[1] as ForwardMessage;
    assert.ok(sameBits(received.activations, big.activations));
    assert.deepEqual(received.labels, big.labels);
    assert.ok(tx.sent.chunks > 3 * 1024 * 1024 / (64 * 1024), `sent ${tx.sent.chunks} chunks`);
    assert.equal(tx.sent.chunked, 1);
    assert.deepEqual(rejects, []);
    assert.equal(rx.bytesInFlight, 0);
    rx.close();
    tx.close();
  });

  test('malformed bytes, broken chunks and invalid messages are rejected and counted; the channel keeps working', async () => {
    const { s, rx, tx, got, rejects } = await pair(a, b, 'garbage');
    a.publish(s, new Uint8Array([0xc1, 0xc1, 0xc1]));
    a.publish(s, new TextEncoder().encode('{"kind":"forward"}'));
    const h = natsHeaders();
    h.set(CHUNK_HEADER, 'x 0 2 100 not-a-number');
    a.publish(s, new Uint8Array(50), { headers: h });
    const h2 = natsHeaders();
    h2.set(CHUNK_HEADER, 'y 0 2 100 50');
    a.publish(s, new Uint8Array(49), { headers: h2 }); // wrong chunk length
    a.publish(s, encodeMessage({ kind: 'forward', step: 1, rows: 2, activations: new Float32Array(3), labels: new Uint8Array(2) }));
    tx.send(forwardMessage(9, 2, 4));
    await a.flush();
    await waitFor(() => got.length === 1, 5_000, 'the good message');
    assert.equal(got[0]?.step, 9);
    assert.equal(rx.rejected.decode, 2);
    assert.equal(rx.rejected.chunk, 2);
    assert.equal(rx.rejected.invalid, 1);
    assert.equal(rejects.length, 5);
    assert.ok(rejects.every(([, detail]) => detail.includes(s)));
    rx.close();
    tx.close();
  });

  test('a message from a sender not in allowedSenders is rejected', async () => {
    const { s, rx, tx, got } = await pair(a, b, 'senders', { allowedSenders: ['stage-0'] }, { sender: 'stage-0' });
    const intruder = new NatsChannel<DataMessage>({ connection: a, subject: s, sender: 'stage-7' });
    const anonymous = new NatsChannel<DataMessage>({ connection: a, subject: s });
    intruder.send(forwardMessage(1, 2, 4));
    anonymous.send(forwardMessage(2, 2, 4));
    intruder.send(forwardMessage(5, 512, 256)); // chunked: rejected before reassembly
    tx.send(forwardMessage(3, 2, 4));
    tx.send(forwardMessage(4, 512, 256)); // chunked, allowed
    await a.flush();
    await waitFor(() => got.length === 2, 5_000, 'the allowed messages');
    assert.deepEqual(got.map((m) => m.step), [3, 4]);
    assert.ok(rx.rejected.sender >= 3); // one per chunk of the chunked one
    assert.equal(rx.bytesInFlight, 0);
    for (const c of [rx, tx, intruder, anonymous]) c.close();
  });

  test('an oversized message is rejected (whole or chunked), smaller ones pass', async () => {
    const { rx, tx, got, rejects } = await pair(a, b, 'oversized', { maxMessageBytes: 40_000 });
    tx.send(forwardMessage(1, 16, 1024)); // 64 kB: chunked, refused on its first chunk
    tx.send(forwardMessage(2, 4, 4096)); // 64 kB again
    tx.send(forwardMessage(3, 8, 1024)); // 32 kB: unchunked, fits
    tx.send(forwardMessage(4, 10, 1024)); // 40 kB + framing: unchunked, too large
    tx.send(forwardMessage(5, 2, 4));
    await tx.flush();
    await waitFor(() => got.length === 2, 5_000, 'the small messages');
    await waitFor(() => rx.rejected.oversized === 3, 2_000, '3 rejections');
    assert.deepEqual(got.map((m) => m.step), [3, 5]);
    assert.equal(rejects.filter(([r]) => r === 'oversized').length, 3);
    assert.equal(rx.rejected.chunk, 0);
    rx.close();
    tx.close();
  });

  test('a handler that throws does not break the channel', async () => {
    const errors: unknown[] = [];
    const { rx, tx, got } = await pair(a, b, 'throwing', { onHandlerError: (e) => errors.push(e) });
    rx.onMessage((m) => {
      if (m.step === 1) throw new Error('boom');
    });
    tx.send(forwardMessage(1, 2, 4));
    tx.send(forwardMessage(2, 2, 4));
    await tx.flush();
    await waitFor(() => got.length === 2, 5_000, 'both messages');
    assert.equal(errors.length, 1);
    rx.close();
    tx.close();
  });
});

describe('nats-server and connections', () => {
  test('a server with a token refuses a client without it and accepts one with it', async () => {
    const token = 'test-token-0123456789';
    await withNatsServer({ token }, async (server) => {
      assert.ok(!server.url.includes(token));
      await assert.rejects(connectNats({ url: server.url, name: 'no-token' }), AuthorizationError);
      await assert.rejects(connectNats({ url: server.url, name: 'bad-token', token: 'wrong-token-000' }), AuthorizationError);
      const nc = await connectNats({ url: server.url, name: 'with-token', token });
      await nc.flush();
      await nc.close();
    });
  });

  test('a client survives a server restart', async () => {
    await withNatsServer({}, async (server) => {
      await withConnections(server.url, ['restart-a', 'restart-b'], async ([a, b]) => {
        const { rx, tx, got } = await pair(a!, b!, 'restart');
        tx.send(forwardMessage(1, 2, 4));
        await waitFor(() => got.length === 1, 5_000, 'first message');
        const port = server.port;
        await server.restart();
        assert.equal(server.port, port);
        // Both clients reconnect and resubscribe; send until a message gets through (bounded).
        let step = 2;
        const deadline = Date.now() + 10_000;
        while (got.length < 2 && Date.now() < deadline) {
          tx.send(forwardMessage(step, 2, 4));
          step += 1;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.ok(got.length >= 2, 'messages flow again after the restart');
        // Core NATS is at-most-once: what was published while the receiver had not resubscribed is lost.
        console.log(`server restart: ${step - 2} messages sent after the restart until one arrived, ${got.length - 1} arrived`);
        assert.ok(!a!.isClosed() && !b!.isClosed());
        rx.close();
        tx.close();
      });
    });
  });

  test('nats-server is looked up on PATH with install instructions when missing', async () => {
    await assert.rejects(startNatsServer({ binary: 'no-such-nats-server-binary' }), /apt-get install nats-server/);
  });

  test('subjects, credentials from the environment, redaction', () => {
    assert.equal(subject('run_1-a', 2, 'backward'), 'synthgrad.run_1-a.2.backward');
    assert.throws(() => subject('a.b', 0, 'forward'), RangeError);
    assert.throws(() => subject('a*', 0, 'forward'), RangeError);
    assert.throws(() => subject('run', -1, 'forward'), RangeError);
    assert.throws(() => subject('run', 0, 'nope' as 'forward'), RangeError);

    assert.deepEqual(credentialsFromEnv({}), {});
    assert.deepEqual(credentialsFromEnv({ SYNTHGRAD_NATS_TOKEN: 't0k' }), { token: 't0k' });
    assert.deepEqual(credentialsFromEnv({ SYNTHGRAD_NATS_USER: 'u', SYNTHGRAD_NATS_PASS: 'p' }), { user: 'u', pass: 'p' });
    assert.throws(() => credentialsFromEnv({ SYNTHGRAD_NATS_USER: 'u' }), /together/);
    assert.throws(() => credentialsFromEnv({ SYNTHGRAD_NATS_TOKEN: 't', SYNTHGRAD_NATS_USER: 'u', SYNTHGRAD_NATS_PASS: 'p' }), /only one/);
    const dir = mkdtempSync(join(tmpdir(), 'synthgrad-creds-'));
    try {
      const file = join(dir, 'creds.json');
      writeFileSync(file, JSON.stringify({ user: 'alice', pass: 'hunter2' }), { mode: 0o600 });
      assert.deepEqual(credentialsFromEnv({ SYNTHGRAD_NATS_CREDENTIALS_FILE: file }), { user: 'alice', pass: 'hunter2' });
      writeFileSync(file, JSON.stringify({ token: 'abc' }));
      assert.deepEqual(credentialsFromEnv({ SYNTHGRAD_NATS_CREDENTIALS_FILE: file }), { token: 'abc' });
      writeFileSync(file, '{"token": "sup3rsecret"');
      assert.throws(() => credentialsFromEnv({ SYNTHGRAD_NATS_CREDENTIALS_FILE: file }), (e: Error) => !e.message.includes('sup3rsecret'));
      writeFileSync(file, JSON.stringify({ token: 'sup3rsecret', extra: 1 }));
      assert.throws(() => credentialsFromEnv({ SYNTHGRAD_NATS_CREDENTIALS_FILE: file }), (e: Error) => !e.message.includes('sup3rsecret'));
      // TLS files from the environment: readable files or PEM text; a certificate needs its key
      assert.equal(tlsFromEnv({}), undefined);
      assert.deepEqual(tlsFromEnv({ SYNTHGRAD_NATS_TLS_CA: file }), { ca: file });
      assert.deepEqual(tlsEnv(tlsFromEnv({ SYNTHGRAD_NATS_TLS_CA: file })), { SYNTHGRAD_NATS_TLS_CA: file });
      assert.throws(() => tlsFromEnv({ SYNTHGRAD_NATS_TLS_CA: join(dir, 'missing.pem') }), /SYNTHGRAD_NATS_TLS_CA names .*missing\.pem, which cannot be read \(ENOENT\)/);
      assert.throws(() => tlsFromEnv({ SYNTHGRAD_NATS_TLS_CERT: file }), /SYNTHGRAD_NATS_TLS_CERT and SYNTHGRAD_NATS_TLS_KEY must be set together/);
      const pem = '-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n';
      assert.deepEqual(tlsFromEnv({ SYNTHGRAD_NATS_TLS_CA: pem }), { ca: pem });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const shown = JSON.stringify(redact({ url: 'nats://bob:pw123@host:4222', name: 'n', token: 'sekret', pass: 'pw123', tlsKey: '/etc/key.pem' }));
    assert.ok(!shown.includes('sekret') && !shown.includes('pw123'), shown);
    assert.ok(shown.includes('host:4222') && shown.includes('/etc/key.pem'), shown);
  });
});

describe('overhead', () => {
  test('time per forward message of 128x256 floats, publish to receive', async () => {
    const n = 1000;
    const message = forwardMessage(0);
    // Codec alone.
    for (let i = 0; i < 100; i += 1) decodeMessage(encodeMessage(message), validateDataMessage);
    let t = performance.now();
    for (let i = 0; i < n; i += 1) decodeMessage(encodeMessage(message), validateDataMessage);
    const codecMs = (performance.now() - t) / n;

    const measure = async (maxPayload: number | undefined): Promise<{ latency: number; windowed: number; chunks: number }> =>
      withNatsServer({ maxPayload }, (server) =>
        withConnections(server.url, ['bench-tx', 'bench-rx'], async ([a, b]) => {
          const { rx, tx, got } = await pair(a!, b!, 'bench');
          let arrived = 0;
          let wake: (() => void) | undefined;
          rx.onMessage(() => {
            arrived += 1;
            got.length = 0;
            wake?.();
          });
          const until = async (count: number): Promise<void> => {
            const deadline = Date.now() + 20_000;
            while (arrived < count) {
              if (Date.now() > deadline) throw new Error(`only ${arrived} of ${count} messages arrived`);
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, 50);
                wake = () => {
                  clearTimeout(timer);
                  resolve();
                };
              });
            }
          };
          // Warm up.
          for (let i = 0; i < 50; i += 1) tx.send({ ...message, step: i });
          await until(50);
          // One message in flight: publish, wait for it, publish the next.
          arrived = 0;
          let start = performance.now();
          for (let i = 0; i < n; i += 1) {
            tx.send({ ...message, step: i });
            await until(i + 1);
          }
          const latency = (performance.now() - start) / n;
          // Up to 8 in flight (like the credit window).
          arrived = 0;
          start = performance.now();
          for (let i = 0; i < n; i += 1) {
            if (i - arrived >= 8) await until(i - 7);
            tx.send({ ...message, step: i });
          }
          await until(n);
          const windowed = (performance.now() - start) / n;
          const chunks = tx.sent.chunked > 0 ? tx.sent.chunks / tx.sent.chunked : 1;
          rx.close();
          tx.close();
          return { latency, windowed, chunks };
        }),
      );

    t = performance.now();
    const plain = await measure(undefined);
    const chunked = await measure(64 * 1024);
    const f = (x: number): string => x.toFixed(3);
    console.log(
      `NATS overhead, forward message 128x256 float32 (${encodeMessage(message).byteLength} bytes encoded), ${n} messages:\n` +
        `  codec alone (encode + decode + validate): ${f(codecMs)} ms/message\n` +
        `  max_payload 1 MiB (1 NATS message each):  ${f(plain.latency)} ms/message one at a time, ${f(plain.windowed)} ms/message with 8 in flight\n` +
        `  max_payload 64 KiB (${plain.chunks === 1 ? chunked.chunks.toFixed(0) : '?'} chunks each):       ${f(chunked.latency)} ms/message one at a time, ${f(chunked.windowed)} ms/message with 8 in flight\n` +
        `  (measured in ${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
  });
});
