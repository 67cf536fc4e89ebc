/**
 * Connecting to NATS: one place for reconnection settings and credentials.
 *
 * Credentials come from the environment or from a file named in the environment, never from
 * command-line arguments (other users of the host can read those with `ps`). Log options through
 * `redact()`.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';

export interface NatsCredentials {
  token?: string;
  user?: string;
  pass?: string;
}

/** TLS files (or PEM text) for a NATS connection. */
export interface NatsTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface NatsConnectOptions extends NatsCredentials {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222` or `tls://nats.example:4222`. */
  url: string | string[];
  /** Connection name shown by the server (e.g. `synthgrad-<run>-stage-2`). */
  name: string;
  /** CA certificate to verify the server: a file path, or PEM text. */
  tlsCa?: string;
  /** Client certificate (mutual TLS): a file path, or PEM text; needs `tlsKey`. */
  tlsCert?: string;
  /** Client key: a file path, or PEM text; needs `tlsCert`. */
  tlsKey?: string;
  /** Wait between reconnection attempts, in ms (default 250, plus up to 100 ms jitter). */
  reconnectWaitMs?: number;
  /** Timeout of the first connection, in ms (default 5000). */
  timeoutMs?: number;
  /** Keep trying when the server is not up yet at start (default false: reject at once). */
  waitOnFirstConnect?: boolean;
}

/**
 * Connects with reconnection on: unlimited attempts, a short wait between them; subscriptions are
 * restored and messages published while disconnected are buffered (up to the client's reconnect
 * buffer) and sent on reconnection. Rejects (e.g. `AuthorizationError` for missing or wrong
 * credentials) when the first connection fails.
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  return connect(natsConnectionOptions(options));
}

/** The options `connectNats` hands to `connect` from @nats-io/transport-node. */
export function natsConnectionOptions(options: NatsConnectOptions): NodeConnectionOptions {
  if (options.token !== undefined && (options.user !== undefined || options.pass !== undefined)) {
    throw new Error('NATS credentials: give a token or a user and password, not both');
  }
  if ((options.user === undefined) !== (options.pass === undefined)) {
    throw new Error('NATS credentials: a user needs a password and a password needs a user');
  }
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new Error('NATS TLS: a client certificate needs its key and a key needs its certificate');
  }
  const result: NodeConnectionOptions = {
    servers: options.url,
    name: options.name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectWaitMs ?? 250,
    reconnectJitter: 100,
    reconnectJitterTLS: 250,
    timeout: options.timeoutMs ?? 5_000,
    waitOnFirstConnect: options.waitOnFirstConnect ?? false,
  };
  if (options.token !== undefined) result.token = options.token;
  if (options.user !== undefined) {
    result.user = options.user;
    result.pass = options.pass;
  }
  if (options.tlsCa !== undefined || options.tlsCert !== undefined) {
    const tls: NonNullable<NodeConnectionOptions['tls']> = {};
    if (options.tlsCa !== undefined) {
      if (isPem(options.tlsCa)) tls.ca = options.tlsCa;
      else tls.caFile = options.tlsCa;
    }
    if (options.tlsCert !== undefined && options.tlsKey !== undefined) {
      if (isPem(options.tlsCert)) tls.cert = options.tlsCert;
      else tls.certFile = options.tlsCert;
      if (isPem(options.tlsKey)) tls.key = options.tlsKey;
      else tls.keyFile = options.tlsKey;
    }
    result.tls = tls;
  }
  return result;
}

function isPem(value: string): boolean {
  return value.trimStart().startsWith('-----BEGIN');
}

/**
 * Credentials from the environment: `SYNTHGRAD_NATS_TOKEN`, or `SYNTHGRAD_NATS_USER` with
 * `SYNTHGRAD_NATS_PASS`, or `SYNTHGRAD_NATS_CREDENTIALS_FILE` naming a JSON file holding
 * `{ "token": "..." }` or `{ "user": "...", "pass": "..." }`. Exactly one of the three may be set
 * (empty variables count as unset); none gives `{}`. Errors never contain the secrets.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): NatsCredentials {
  const value = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const token = value('SYNTHGRAD_NATS_TOKEN');
  const user = value('SYNTHGRAD_NATS_USER');
  const pass = value('SYNTHGRAD_NATS_PASS');
  const file = value('SYNTHGRAD_NATS_CREDENTIALS_FILE');
  const sources = [token !== undefined, user !== undefined || pass !== undefined, file !== undefined].filter(Boolean).length;
  if (sources > 1) {
    throw new Error('NATS credentials: set only one of SYNTHGRAD_NATS_TOKEN, SYNTHGRAD_NATS_USER/SYNTHGRAD_NATS_PASS, SYNTHGRAD_NATS_CREDENTIALS_FILE');
  }
  if (token !== undefined) return { token };
  if (user !== undefined || pass !== undefined) {
    if (user === undefined || pass === undefined) throw new Error('NATS credentials: SYNTHGRAD_NATS_USER and SYNTHGRAD_NATS_PASS must be set together');
    return { user, pass };
  }
  if (file !== undefined) return credentialsFromFile(file);
  return {};
}

/** The variables that name TLS files (or hold PEM text) for NATS connections. */
export const TLS_VARIABLES = { ca: 'SYNTHGRAD_NATS_TLS_CA', cert: 'SYNTHGRAD_NATS_TLS_CERT', key: 'SYNTHGRAD_NATS_TLS_KEY' } as const;

/**
 * TLS from the environment: `SYNTHGRAD_NATS_TLS_CA` (the CA that signed the server's certificate)
 * and, for servers that verify clients, `SYNTHGRAD_NATS_TLS_CERT` with `SYNTHGRAD_NATS_TLS_KEY`.
 * Each names a file (or holds PEM text). None set: undefined (the client still upgrades to TLS
 * when the server requires it, trusting the system's CAs).
 */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): NatsTls | undefined {
  const tls: NatsTls = {};
  for (const [field, name] of Object.entries(TLS_VARIABLES) as [keyof NatsTls, string][]) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (!isPem(value)) {
      try {
        accessSync(value, constants.R_OK);
      } catch (error) {
        throw new Error(`${name} names ${value}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): give the path of a PEM file`);
      }
    }
    tls[field] = value;
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new Error(`NATS TLS: ${TLS_VARIABLES.cert} and ${TLS_VARIABLES.key} must be set together (a client certificate needs its key)`);
  }
  return Object.keys(tls).length > 0 ? tls : undefined;
}

/** The environment that hands `tls` to a child process (tlsFromEnv reads it back). */
export function tlsEnv(tls: NatsTls | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [field, name] of Object.entries(TLS_VARIABLES) as [keyof NatsTls, string][]) {
    const value = tls?.[field];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Reads `{ "token": ... }` or `{ "user": ..., "pass": ... }` from a JSON file. */
export function credentialsFromFile(path: string): NatsCredentials {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`NATS credentials file ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text; it may hold the secret.
    throw new Error(`NATS credentials file ${path}: not valid JSON`);
  }
  const shape = `NATS credentials file ${path}: expected {"token": "..."} or {"user": "...", "pass": "..."}`;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(shape);
  const record = data as Record<string, unknown>;
  const keys = Object.keys(record).sort().join(',');
  if (keys === 'token' && typeof record.token === 'string' && record.token !== '') return { token: record.token };
  if (keys === 'pass,user' && typeof record.user === 'string' && record.user !== '' && typeof record.pass === 'string' && record.pass !== '') {
    return { user: record.user, pass: record.pass };
  }
  throw new Error(shape);
}

const SECRET_KEYS = new Set(['token', 'pass', 'password', 'secret', 'authenticator', 'credentials']);
const REDACTED = '[redacted]';

/**
 * A copy of connection options fit for logs: tokens and passwords replaced, user:password in URLs
 * replaced, PEM key text replaced (file paths kept).
 */
export function redact<T extends object>(options: T): { [K in keyof T]: unknown } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) out[key] = value;
    else if (SECRET_KEYS.has(key.toLowerCase())) out[key] = REDACTED;
    else if ((key === 'url' || key === 'servers') && typeof value === 'string') out[key] = redactUrl(value);
    else if ((key === 'url' || key === 'servers') && Array.isArray(value)) out[key] = value.map((v) => (typeof v === 'string' ? redactUrl(v) : v));
    else if (typeof value === 'string' && value.includes('PRIVATE KEY')) out[key] = REDACTED;
    else out[key] = value;
  }
  return out as { [K in keyof T]: unknown };
}

/** `nats://user:secret@host:4222` -> `nats://[redacted]@host:4222`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, `$1${REDACTED}@`);
}
