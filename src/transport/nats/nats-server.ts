/**
 * Starting a local nats-server (for `--placement process` and for tests): loopback by default, a
 * generated config file in a private temp directory, a bounded wait until it accepts connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { within } from './within.js';

export interface NatsServerOptions {
  /** The IPv4 address to listen on (default 127.0.0.1, loopback only). */
  host?: string;
  /** Port on `host`; 0 (default) picks a free one (kept across `restart()`). */
  port?: number;
  /** Clients must present this token. Letters, digits and `._~+/=-`, at least 8 characters. */
  token?: string;
  /** Largest message the server accepts, headers included (server default 1 MiB; at most 64 MiB). */
  maxPayload?: number;
  /** The nats-server executable: a path, or a name searched on PATH (default `nats-server`). */
  binary?: string;
  /** Bound on the wait for the server to accept connections, in ms (default 10000). */
  readyTimeoutMs?: number;
  /**
   * Serve TLS only, with this certificate and key (PEM files); with `ca` and `verifyClients`,
   * clients must also present a certificate signed by that CA.
   */
  tls?: { cert: string; key: string; ca?: string; verifyClients?: boolean };
  /** Told when a running server exits without `stop()` or `restart()` asking it to (`how`: code or signal). */
  onExit?: (how: string) => void;
}

export interface NatsServer {
  /** `nats://<host>:<port>`, `tls://` with TLS (no credentials in it). */
  readonly url: string;
  readonly port: number;
  /** The server's process id (undefined when it is not running). */
  readonly pid: number | undefined;
  /** Stops the server and removes its temp directory; safe to call twice. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port (clients reconnect). */
  restart(): Promise<void>;
}

const INSTALL_HINT = 'install it with `apt-get install nats-server` (Debian package nats-server)';
/** Searched after PATH: Debian puts nats-server in /usr/sbin, which is not on every user's PATH. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{8,512}$/;
const OUTPUT_TAIL = 8192;

/** The nats-server executable's path; throws with install instructions when there is none. */
export function findNatsServer(binary = 'nats-server'): string {
  const executable = (path: string): boolean => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (binary.includes('/')) {
    if (executable(binary)) return binary;
    throw new Error(`nats-server not found at ${binary}: ${INSTALL_HINT}`);
  }
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of [...dirs, ...EXTRA_DIRS]) {
    const path = join(dir, binary);
    if (executable(path)) return path;
  }
  throw new Error(`${binary} not found on PATH: ${INSTALL_HINT}`);
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = findNatsServer(options.binary);
  const requestedPort = options.port ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) throw new RangeError(`bad port ${requestedPort}`);
  if (options.token !== undefined && !TOKEN_PATTERN.test(options.token)) {
    throw new RangeError('token must be 8-512 characters: letters, digits and ._~+/=-');
  }
  if (options.maxPayload !== undefined && !(Number.isSafeInteger(options.maxPayload) && options.maxPayload >= 1024 && options.maxPayload <= 64 * 1024 * 1024)) {
    throw new RangeError(`maxPayload must be an integer from 1024 to 64 MiB, got ${options.maxPayload}`);
  }
  if (options.tls?.verifyClients && !options.tls.ca) throw new RangeError('tls.verifyClients needs tls.ca (the CA that signs client certificates)');
  const host = options.host ?? '127.0.0.1';
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) throw new RangeError(`host must be an IPv4 address, got ${JSON.stringify(host)}`);
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'synthgrad-nats-'));
  const configPath = join(dir, 'nats-server.conf');
  const writeConfig = (port: number): void => {
    const lines = [
      `listen: "${host}:${port === 0 ? -1 : port}"`,
      `ports_file_dir: ${JSON.stringify(dir)}`,
      `server_name: "synthgrad-local"`,
    ];
    if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
    // The token goes in a file only this user can read, never on the command line.
    if (options.token !== undefined) lines.push(`authorization {`, `  token: "${options.token}"`, `}`);
    const tls = options.tls;
    if (tls !== undefined) {
      lines.push(`tls {`, `  cert_file: ${JSON.stringify(tls.cert)}`, `  key_file: ${JSON.stringify(tls.key)}`, `  timeout: 5`);
      if (tls.ca !== undefined) lines.push(`  ca_file: ${JSON.stringify(tls.ca)}`);
      if (tls.verifyClients) lines.push(`  verify: true`);
      lines.push(`}`);
    }
    writeFileSync(configPath, lines.join('\n') + '\n', { mode: 0o600 });
  };

  let child: ChildProcess | undefined;
  let port = requestedPort;
  let disposed = false;
  const killOnExit = (): void => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const launch = async (): Promise<void> => {
    writeConfig(port);
    const proc = spawn(binary, ['-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    const keep = (data: Buffer): void => {
      output = (output + data.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exited: string | undefined;
    let ready = false;
    let spawnError: Error | undefined;
    proc.once('error', (error) => {
      spawnError = error;
    });
    proc.once('exit', (code, signal) => {
      exited = signal !== null ? `signal ${signal}` : `code ${code}`;
      // halt() forgets the process before it ends it: still ours means nobody here asked
      if (child === proc && ready) options.onExit?.(exited);
    });

    const deadline = Date.now() + readyTimeoutMs;
    const failure = (what: string): Error => new Error(`nats-server ${what}\n${output.trim()}`);
    // The server writes <name>_<pid>.ports once all its listeners are up.
    let url: string | undefined;
    while (url === undefined) {
      if (spawnError !== undefined) throw failure(`could not start: ${spawnError.message}`);
      if (exited !== undefined) throw failure(`exited at start (${exited})`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw failure(`not ready after ${readyTimeoutMs} ms`);
      }
      if (proc.pid !== undefined) url = readPortsFile(dir, proc.pid, host);
      if (url === undefined) await sleep(20);
    }
    const match = /:(\d+)$/.exec(url);
    if (match === null) throw failure(`reported an unexpected client URL ${url}`);
    port = Number(match[1]);
    while (!(await accepts(host, port))) {
      if (exited !== undefined) throw failure(`exited at start (${exited})`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw failure(`does not accept connections on ${host}:${port} after ${readyTimeoutMs} ms`);
      }
      await sleep(20);
    }
    ready = true;
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exit = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    if (!(await within(exit, 5_000))) {
      proc.kill('SIGKILL');
      await within(exit, 5_000);
    }
  };

  const dispose = (): void => {
    disposed = true;
    process.removeListener('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (error) {
    await halt();
    dispose();
    throw error;
  }

  return {
    get url() {
      return `${options.tls ? 'tls' : 'nats'}://${host}:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child?.pid;
    },
    async stop() {
      if (disposed) return;
      await halt();
      dispose();
    },
    async restart() {
      if (disposed) throw new Error('nats-server was stopped; start a new one');
      await halt();
      try {
        await launch();
      } catch (error) {
        await halt();
        throw error;
      }
    },
  };
}

function readPortsFile(dir: string, pid: number, host: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const name = names.find((n) => n.endsWith(`_${pid}.ports`));
  if (name === undefined) return undefined;
  try {
    const data = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { nats?: unknown };
    const urls = Array.isArray(data.nats) ? data.nats.filter((u): u is string => typeof u === 'string') : [];
    return urls.find((u) => u.includes(host)) ?? urls[0];
  } catch {
    return undefined; // being written
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

