import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/**
 * A run id unique to this test process: other checkouts on the machine may run the same tests at
 * the same time, and the checks for leftover stage processes look for their run id.
 */
export function runId(name: string): string {
  return `${name}-${process.pid}`;
}

/** The environment without NATS settings (credentials, TLS) or SYNTHGRAD_FAULT, plus `vars`. */
export function envWith(vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SYNTHGRAD_NATS_') || k === 'SYNTHGRAD_FAULT') delete env[k];
  return { ...env, ...vars };
}

/** Runs the synthgrad CLI in a child process (after `prefix`, e.g. `ip netns exec NS`); its output is collected. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = process.env, prefix: string[] = []): Proc {
  const command = [...prefix, process.execPath, cli, ...args];
  const child = spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** `synthgrad stage` for one stage, logging at info (its "connected" line tells it is up). */
export function startStage(url: string, run: string, stage: number, env: NodeJS.ProcessEnv = process.env, prefix: string[] = []): Proc {
  return runCli(['stage', '--nats', url, '--run', run, '--stage', String(stage), '--log-level', 'info', '--join-timeout', '120'], env, prefix);
}

/** Waits until `predicate` holds (polling), or throws after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits for a process to exit; kills it (SIGKILL) after `timeoutMs`. Returns its exit code or signal. */
export async function exitOf(proc: Proc, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const result = await Promise.race([proc.exited, timeout]);
  clearTimeout(timer);
  if (result === 'timeout') {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
  return result;
}

/** Pids of live processes whose command line (arguments joined by spaces, one after the last) contains every one of `words`. */
export function processesWith(...words: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (!cmdline.endsWith(' ')) cmdline += ' ';
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (state === 'Z') continue; // exited, not yet reaped
    } catch {
      continue; // gone meanwhile
    }
    if (words.every((w) => cmdline.includes(w))) pids.push(Number(entry));
  }
  return pids;
}
