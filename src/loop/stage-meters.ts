import { performance } from 'node:perf_hooks';
import { threadCpu } from '../runtime/thread-cpu.js';
import { rounded } from '../log.js';
import { TraceRecorder, stageTid } from '../metrics/trace.js';
import { DurationHistogram } from '../metrics/duration-histogram.js';
import type { StageTimes } from '../stage/protocol.js';

/** The names the four times have in a checkpoint's counters (they go on across a restore). */
const saved = { busy: 'busyMs', wait: 'waitMs', send: 'sendMs', receive: 'receiveMs', read: 'readMs' } as const;

/**
 * Where a stage's time goes (in steps, waiting, sending, receiving), a trace of it, and its thread's
 * CPU time: what the stage loop measures around the stage, and nothing else.
 */
export class StageMeters {
  /** Milliseconds. */
  readonly ms = { busy: 0, wait: 0, send: 0, receive: 0, read: 0 };
  private reads = 0;
  /** Read time within the busy span in progress. */
  private stepReadMs = 0;
  readonly trace: TraceRecorder;
  private readonly sends = new DurationHistogram();
  private readonly receives = new DurationHistogram();
  private atReady: ReturnType<typeof threadCpu> = null;

  constructor(private readonly stage: number) {
    this.trace = new TraceRecorder(stageTid(stage));
  }

  /**
   * `send`, timed: every message the stage sends while it works counts as sending (activations,
   * targets, its reports to the orchestrator); replies to control requests are sent while receiving.
   */
  timed<T extends object>(send: (message: T) => void): (message: T) => void {
    return (message) => {
      const t0 = performance.now();
      send(message);
      const t1 = performance.now();
      this.ms.send += t1 - t0;
      this.sends.add(t1 - t0);
      this.trace.span('send', t0, t1, 'step' in message && typeof message.step === 'number' ? { step: message.step } : undefined);
    };
  }

  /** A span of work (`busy`) or of waiting, from two performance.now() readings. */
  span(what: 'busy' | 'wait', name: string, t0: number, t1: number, step?: number): void {
    this.ms[what] += t1 - t0;
    const args = { ...(step !== undefined && step >= 0 && { step }), ...(this.stepReadMs > 0 && { readMs: rounded(this.stepReadMs, 3) }) };
    this.stepReadMs = 0;
    this.trace.span(name, t0, t1, Object.keys(args).length > 0 ? args : undefined);
  }

  /**
   * A wait for tensors read to the CPU, within a busy span (see ReadClock). It goes to the trace as
   * that span's `readMs`, not as a span of its own: a span per read made cdni/async on wasm about
   * 2-3% slower (synthgrad bench, paired).
   */
  read(t0: number, t1: number): void {
    this.ms.read += t1 - t0;
    this.stepReadMs += t1 - t0;
    this.reads += 1;
  }

  received(t0: number, t1: number): void {
    this.ms.receive += t1 - t0;
    this.receives.add(t1 - t0);
  }

  /** CPU times count from here: loading tfjs and building the stage (about 0.5 s of CPU) are left out. */
  ready(): void {
    this.atReady = threadCpu();
  }

  /** The times, as a checkpoint keeps them (readMs: absent from checkpoints written before it was kept). */
  counters(): Record<string, number> {
    return Object.fromEntries(Object.entries(saved).map(([k, name]) => [name, this.ms[k as keyof typeof saved]]));
  }

  /** Goes on from the times of a checkpoint. */
  restore(counters: Record<string, number>): void {
    for (const [k, name] of Object.entries(saved)) this.ms[k as keyof typeof saved] = counters[name] ?? 0;
  }

  times(): Omit<StageTimes, 'stage'> {
    return {
      busySeconds: this.ms.busy / 1000,
      waitSeconds: this.ms.wait / 1000,
      sendSeconds: this.ms.send / 1000,
      sends: this.sends.count,
      sendMedianMs: this.sends.median(),
      receiveSeconds: this.ms.receive / 1000,
      receives: this.receives.count,
      receiveMedianMs: this.receives.median(),
      readSeconds: this.ms.read / 1000,
      reads: this.reads,
      ...this.cpuSinceReady(),
    };
  }

  private cpuSinceReady(): Pick<StageTimes, 'cpuSeconds' | 'runQueueSeconds'> {
    const now = threadCpu();
    const at = this.atReady;
    return now && at ? { cpuSeconds: now.cpuSeconds - at.cpuSeconds, runQueueSeconds: now.runQueueSeconds - at.runQueueSeconds } : {};
  }
}
