import cliProgress from 'cli-progress';
import type { Progress } from '../train.js';

/** A progress bar on stderr (only on a terminal); `log` prints a line above it. */
export class ProgressBar {
  private readonly multibar = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: 'epoch {epoch}/{epochs} |{bar}| {value}/{total} steps  loss {loss}  {rate} samples/s  {phase}',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  private bar: cliProgress.SingleBar | null = null;

  update(p: Progress): void {
    const payload = {
      epoch: p.epoch,
      epochs: p.epochs,
      loss: p.loss === null ? '-' : p.loss.toFixed(4),
      rate: Math.round(p.samplesPerSecond),
      phase: p.phase === 'evaluate' ? '(evaluating)' : '',
    };
    if (!this.bar) this.bar = this.multibar.create(p.totalSteps, p.step, payload);
    else this.bar.update(p.step, payload);
  }

  log(line: string): void {
    this.multibar.log(line + '\n');
  }

  stop(): void {
    this.multibar.stop();
  }
}
