import cliProgress from 'cli-progress';
import type { Progress } from '../train.js';

/** What a progress line shows besides the run's own figures: the bar, and times already formatted. */
export interface ProgressTimes {
  bar: string;
  /** Wall time since the bar appeared. */
  elapsed: string;
  /** Time left at the recent rate of steps, or null before there is one. */
  eta: string | null;
}

const fixed = (x: number | null, digits: number) => (x === null ? '-' : x.toFixed(digits));

/**
 * One line of the progress bar: the epoch out of the one the run really ends in (train.maxSteps may
 * end it before train.epochs), the steps, the epoch's running training loss and accuracy, the
 * samples/s of training, the elapsed time and the estimated time left.
 */
export function progressLine(p: Progress, t: ProgressTimes): string {
  return (
    `epoch ${p.epoch}/${p.epochs} |${t.bar}| ${p.step}/${p.totalSteps} steps  loss ${fixed(p.loss, 4)}  acc ${fixed(p.accuracy, 4)}  ` +
    `${Math.round(p.samplesPerSecond)} samples/s  ${t.elapsed} elapsed, ${t.eta ?? '?'} left${p.phase === 'evaluate' ? '  (evaluating)' : ''}`
  );
}

/** A progress bar on stderr (only on a terminal); `log` prints a line above it. */
export class ProgressBar {
  private readonly multibar = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: (options, params, payload: { progress: Progress }) =>
        progressLine(payload.progress, {
          bar: cliProgress.Format.BarFormat(params.progress, options),
          elapsed: cliProgress.Format.TimeFormat(Math.round((Date.now() - params.startTime) / 1000), options, 1),
          // cli-progress estimates from the recent steps (a resumed run's earlier steps do not count)
          eta: Number.isFinite(params.eta) && params.value > 0 ? cliProgress.Format.TimeFormat(params.eta, options, 1) : null,
        }),
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  private bar: cliProgress.SingleBar | null = null;

  update(p: Progress): void {
    if (!this.bar) this.bar = this.multibar.create(p.totalSteps, p.step, { progress: p });
    else this.bar.update(p.step, { progress: p });
  }

  log(line: string): void {
    this.multibar.log(line + '\n');
  }

  stop(): void {
    this.multibar.stop();
  }
}
