import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer, type NatsServerOptions } from '../../src/transport/nats/nats-server.js';
import { connectNats } from '../../src/transport/nats/nats-connect.js';

/** Runs `body` with a fresh loopback nats-server, always stopped afterwards. */
export async function withNatsServer<R>(options: NatsServerOptions, body: (server: NatsServer) => Promise<R>): Promise<R> {
  const server = await startNatsServer(options);
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

/** Runs `body` with connections to `url`, always closed afterwards. */
export async function withConnections<R>(
  url: string,
  names: string[],
  body: (connections: NatsConnection[]) => Promise<R>,
  token?: string,
): Promise<R> {
  const connections: NatsConnection[] = [];
  try {
    for (const name of names) connections.push(await connectNats({ url, name, token }));
    return await body(connections);
  } finally {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  }
}

/** Polls `predicate` every few ms; throws after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
