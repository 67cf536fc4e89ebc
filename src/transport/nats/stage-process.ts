/**
 * Starting a stage process on this host: `node dist/src/cli/main.js stage ...` with the run's
 * NATS credentials and TLS files in its environment (never in its arguments, which `ps` shows to every user).
 * Its stdin is a pipe it watches: when the orchestrator dies, the pipe closes and the stage exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TLS_VARIABLES, tlsEnv, type NatsCredentials, type NatsTls } from './nats-connect.js';

const cli = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const OUTPUT_TAIL = 4096;
const CREDENTIAL_VARIABLES = ['SYNTHGRAD_NATS_TOKEN', 'SYNTHGRAD_NATS_USER', 'SYNTHGRAD_NATS_PASS', 'SYNTHGRAD_NATS_CREDENTIALS_FILE', ...Object.values(TLS_VARIABLES)];

export interface StageProcessOptions {
  url: string;
  run: string;
  stage: number;
  instance: string;
  credentials: NatsCredentials;
  /** Handed over in the environment, like the credentials. */
  tls?: NatsTls;
  logLevel?: string;
  /** Each line the process writes on stderr. */
  onOutput?(line: string): void;
}

export interface StageProcess {
  readonly pid: number | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  kill(signal?: NodeJS.Signals): void;
  /** The last few kB of its stderr. */
  output(): string;
}

export function spawnStageProcess(options: StageProcessOptions): StageProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CREDENTIAL_VARIABLES) delete env[name];
  if (options.credentials.token !== undefined) env.SYNTHGRAD_NATS_TOKEN = options.credentials.token;
  if (options.credentials.user !== undefined) {
    env.SYNTHGRAD_NATS_USER = options.credentials.user;
    env.SYNTHGRAD_NATS_PASS = options.credentials.pass;
  }
  Object.assign(env, tlsEnv(options.tls));
  const args = [cli, 'stage', '--nats', options.url, '--run', options.run, '--stage', String(options.stage), '--instance', options.instance, '--exit-with-stdin'];
  args.push('--log-level', options.logLevel ?? 'warn');
  const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
  let tail = '';
  let partial = '';
  child.stderr?.on('data', (data: Buffer) => {
    const text = data.toString('utf8');
    tail = (tail + text).slice(-OUTPUT_TAIL);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) options.onOutput?.(line);
  });
  child.stdin?.on('error', () => undefined); // the child exited first
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    pid: child.pid,
    exited,
    alive: () => !done && child.exitCode === null && child.signalCode === null,
    kill: (signal = 'SIGTERM') => {
      if (!done) child.kill(signal);
    },
    output: () => tail,
  };
}
