/**
 * Whether a NATS connection is up, from the client's status events. The client reconnects on its
 * own (connectNats: unlimited attempts, restored subscriptions, publishes buffered meanwhile); this
 * tells its owner when the server went away and for how long, so that it can stop taking silence
 * for death while the server is gone and look for messages lost meanwhile once it is back.
 */
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';

export interface ConnectionWatch {
  /** False between a disconnection and the reconnection that follows. */
  readonly connected: boolean;
  /** How long the connection has been down now, in ms (0 when up). */
  downFor(now?: number): number;
}

export interface ConnectionEvents {
  disconnected?(): void;
  /** Back after `downMs` of disconnection. */
  reconnected?(downMs: number): void;
}

export function watchConnection(nc: NatsConnection, events: ConnectionEvents): ConnectionWatch {
  let downSince: number | null = null;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' && downSince === null) {
        downSince = performance.now();
        events.disconnected?.();
      } else if (status.type === 'reconnect' && downSince !== null) {
        const downMs = performance.now() - downSince;
        downSince = null;
        events.reconnected?.(downMs);
      }
    }
  })().catch(() => undefined); // the iterator ends when the connection closes
  return {
    get connected() {
      return downSince === null;
    },
    downFor(now = performance.now()) {
      return downSince === null ? 0 : now - downSince;
    },
  };
}
