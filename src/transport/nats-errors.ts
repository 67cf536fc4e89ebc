import { redactUrl } from './nats-connect.js';

/** TLS files (or PEM text) for a NATS connection. */
export interface NatsTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * The stages could not be reached or started over NATS (no server, refused credentials, stages
 * that did not join in time): one clear message, no stack.
 */
export class TransportError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TransportError';
  }
}

/** A connection failure in words, without secrets. */
export function describeConnectError(error: unknown, url: string): string {
  const err = error as Error & { code?: string };
  const name = err?.name ?? '';
  const what = err?.message ?? String(error);
  const hint = /authoriz|authentic/i.test(`${name} ${what}`)
    ? ' (the server wants credentials: set SYNTHGRAD_NATS_TOKEN, or SYNTHGRAD_NATS_USER and SYNTHGRAD_NATS_PASS, or SYNTHGRAD_NATS_CREDENTIALS_FILE)'
    : /ECONNREFUSED|connection refused/i.test(`${err?.code ?? ''} ${what}`)
      ? ' (is nats-server running there?)'
      : '';
  return `cannot connect to NATS at ${redactUrl(url)}: ${what}${hint}`;
}
