import { performance } from 'node:perf_hooks';
import { Stage, type StageLinks } from '../../stage/stage.js';
import { isLast, type StageSpec } from '../../stage/stage-spec.js';
import type { BackwardMessage, ForwardMessage } from '../../stage/protocol.js';
import { stream } from '../../stage/rng.js';
import { shapeSize } from '../../model/index.js';

/** Milliseconds of one driven step: DNI steps 1-4, then step 5 (or the true gradient) when the stage gets targets. */
export interface DrivenStep {
  forwardMs: number;
  targetMs: number;
}

/**
 * One stage alone in this thread, fed synthetic inputs of the right shape: random activations and
 * labels and, for a stage below the top, a random target for the same batch right after it (the
 * order of the lockstep schedule). Its links only count what it sends. Shared by profile-stage
 * and the grouping proposal.
 */
export class StageDriver {
  readonly stage: Stage;
  readonly sent = { forward: 0, backward: 0, reports: 0 };
  /** Whether targets come from above (not for the last stage). */
  readonly takesTargets: boolean;
  private readonly pool: { activations: Float32Array; labels: Uint8Array; target: Float32Array | null }[];
  private steps = 0;

  constructor(readonly spec: StageSpec, readonly batchSize: number, seed: string | number) {
    const links: StageLinks = {
      forward: () => void (this.sent.forward += 1),
      backward: () => void (this.sent.backward += 1),
      report: () => void (this.sent.reports += 1),
    };
    this.stage = new Stage(spec, links);
    this.takesTargets = !isLast(spec);
    const B = batchSize;
    const outUnits = shapeSize(spec.outputShape);
    const rng = stream(seed, 'profile', 'stage', spec.index);
    this.pool = Array.from({ length: 4 }, () => ({
      activations: new Float32Array(B * spec.inputUnits).map(() => rng()),
      labels: new Uint8Array(B).map(() => Math.floor(rng() * spec.classes)),
      target: this.takesTargets ? new Float32Array(B * outUnits).map(() => (rng() - 0.5) / B) : null,
    }));
  }

  /** One step, timed. */
  async step(): Promise<DrivenStep> {
    const step = this.steps++;
    const p = this.pool[step % this.pool.length];
    const forward: ForwardMessage = { kind: 'forward', step, rows: this.batchSize, activations: p.activations, labels: p.labels };
    const t0 = performance.now();
    await this.stage.forward(forward);
    const t1 = performance.now();
    if (this.takesTargets) {
      const target: BackwardMessage = { kind: 'backward', step, gradient: p.target, synthetic: this.stage.source.synthetic };
      await this.stage.backward(target);
    }
    return { forwardMs: t1 - t0, targetMs: performance.now() - t1 };
  }

  dispose(): void {
    this.stage.dispose();
  }
}
