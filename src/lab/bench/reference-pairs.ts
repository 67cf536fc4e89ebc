import type { RunRecord } from './analysis.js';
import type { LoadSample } from './load.js';
import { median } from './stats.js';

/** One run of the PyTorch reference in the bench's interleaved order. */
export interface ReferenceRun {
  /** `pytorch/<mode>` */
  config: string;
  mode: string;
  repetition: number;
  /** Position in the interleaved order, from 0. */
  index: number;
  samplesPerSecond: number;
  wallSeconds: number;
  torch: string;
  threads: number;
  /** The BLAS libraries the reference process mapped. */
  blas: string[];
  /** The OpenMP and BLAS settings it ran with. */
  environment: Record<string, string>;
  /** Others' CPU meanwhile: the machine's, less this process's and the reference's own. */
  load: LoadSample;
}

/** A synthgrad configuration against the reference of its mode, paired per repetition. */
export interface ReferenceRatio {
  config: string;
  reference: string;
  /** synthgrad / reference samples/s, one per repetition that has both, in repetition order. */
  ratios: number[];
  /** The median of `ratios` (null for none). */
  paired: number | null;
  referenceMedianSamplesPerSecond: number;
}

/** The reference's name for a synthgrad mode. */
export const referenceName = (mode: string) => `pytorch/${mode}`;

/**
 * Every synthgrad configuration over the reference run of its mode in the same repetition (a
 * slow drift of the machine's load falls on both of a pair), and the median of those ratios.
 */
export function referenceRatios(runs: readonly RunRecord[], references: readonly ReferenceRun[]): ReferenceRatio[] {
  const configs = [...new Set(runs.map((r) => r.config))];
  const out: ReferenceRatio[] = [];
  for (const config of configs) {
    const own = runs.filter((r) => r.config === config);
    const reference = referenceName(config.split('/')[0]);
    const refs = references.filter((r) => r.config === reference);
    if (!refs.length) continue;
    const ratios = own.flatMap((r) => {
      const ref = refs.find((x) => x.repetition === r.repetition);
      return ref ? [r.samplesPerSecond / ref.samplesPerSecond] : [];
    });
    out.push({
      config,
      reference,
      ratios,
      paired: ratios.length ? median(ratios) : null,
      referenceMedianSamplesPerSecond: median(refs.map((r) => r.samplesPerSecond)),
    });
  }
  return out;
}

/** True when the reference ran on Debian's reference BLAS (libblas3) rather than an optimised one. */
export function referenceBlas(blas: readonly string[]): boolean {
  return blas.some((path) => /\/blas\/libblas\.so/.test(path)) && !blas.some((path) => /openblas|mkl|blis|atlas/i.test(path));
}
