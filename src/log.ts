import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** JSON lines on stderr; readable lines when stderr is a terminal. */
export function createLogger(options: { level?: string; pretty?: boolean } = {}): Logger {
  const level = options.level ?? 'info';
  if (options.pretty ?? process.stderr.isTTY) {
    return pino({ level }, pretty({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss' }));
  }
  return pino({ level }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (the library's default). */
export const silentLogger: Logger = pino({ level: 'silent' });

/** `x` to `decimals` places, for figures in log lines. */
export function rounded(x: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(x * scale) / scale;
}
