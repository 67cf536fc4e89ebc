import type { ConfigAggregate, RunRecord, Speedup } from './analysis.js';
import type { LoadSample } from './load.js';
import type { MachineInfo } from './machine.js';
import type { MatMulCeiling } from './matmul-ceiling.js';
import type { ReferenceRatio, ReferenceRun } from './reference-pairs.js';
import type { ReferenceTuning } from './reference-settings.js';
import type { ConvShape } from './flops.js';
import type { StageWork } from './stage-work.js';

/** bench.json */
export interface BenchResult {
  format: 'synthgrad-bench/1';
  createdAt: string;
  outDir: string;
  settings: {
    preset: string | null;
    steps: number;
    /** Steps of every run left out of its samples/s (RunRecord.warmupSteps: where each run's measure began). */
    warmup: number;
    repetitions: number;
    batchSize: number;
    configs: string[];
    /** The interleaved order the runs took: `config#repetition`. */
    order: string[];
    /** Cores of the parallelism bound min(cores, Σ busy / max busy). */
    cores: number;
  };
  machine: MachineInfo & { backend: string };
  /**
   * Single-thread matMul of the bench process, with the load meanwhile: measured before the runs
   * and again after them, and the faster of the two kept (`measured`; the other in `slower`), since
   * a slow spell of a shared machine lowers one measurement and a ceiling is what the backend can do.
   */
  matMulCeiling: MeasuredCeiling;
  /**
   * The backend's own conv2d of the largest conv layer of any stage (or synthesizer), measured like
   * the matMul ceiling: the ceiling of the stages with conv layers. null: no conv layer.
   */
  convCeiling: (MeasuredCeiling & { shape: ConvShape }) | null;
  /** Per configuration, what each stage computes per step (its GFLOP/s = steps · FLOPs / busy seconds). */
  stageWork: Record<string, StageWork[]>;
  runs: RunRecord[];
  configs: ConfigAggregate[];
  speedups: Speedup[];
  /**
   * `--reference`: the settings tried per mode before the runs (none when not tuned), the PyTorch
   * runs, interleaved with the others, and each configuration's ratio to them.
   */
  reference?: { python: string; tuning: ReferenceTuning[]; runs: ReferenceRun[]; ratios: ReferenceRatio[] };
  /** Others' CPU over all runs together (per run: runs[i].load). */
  load: LoadSample;
}

/** A ceiling and when it was measured; `slower`: the other measurement (none until the runs are done). */
export type MeasuredCeiling = MatMulCeiling & {
  load: LoadSample;
  measured?: 'before the runs' | 'after the runs';
  slower?: { gflops: number; medianMs: number; measured: 'before the runs' | 'after the runs'; load: LoadSample };
};
