/** Per-layer costs, in any unit of time per training step. */
export interface LayerCosts {
  /** The layer's own work: forward, backward, update. */
  layer: number[];
  /**
   * The extra work of a stage whose last layer is this one: its synthesizer's prediction and
   * training (DNI/cDNI). 0 for the network's last layer and in backprop mode.
   */
  interface: number[];
}

export interface GroupingProposal {
  /** Layer indices of each stage, as the config's `stages` takes them. */
  groups: number[][];
  /** Predicted cost of each stage. */
  stageCosts: number[];
  /** min(cores, Σ stage costs / busiest stage's): the speedup over running the stages one at a time this grouping allows. */
  bound: number;
}

/** The cost of a stage holding layers first..last. */
function stageCost(costs: LayerCosts, first: number, last: number): number {
  let sum = costs.interface[last] ?? 0;
  for (let i = first; i <= last; i++) sum += costs.layer[i];
  return sum;
}

/**
 * The contiguous grouping of the layers into `stages` stages whose busiest stage costs least (the
 * pipeline runs at the pace of its busiest stage). Exact, by dynamic programming over where each
 * stage ends. Ties go to the grouping found first (earlier boundaries).
 */
export function proposeGrouping(costs: LayerCosts, stages: number, cores: number): GroupingProposal {
  const n = costs.layer.length;
  if (!Number.isInteger(stages) || stages < 1 || stages > n) {
    throw new RangeError(`stages must be a whole number from 1 to the number of layers (${n}), got ${stages}`);
  }
  if (costs.interface.length !== n) throw new RangeError(`expected ${n} interface costs, got ${costs.interface.length}`);
  // best[k][j]: the least busiest-stage cost of layers 0..j-1 in k stages; cut[k][j]: where its last stage starts
  const best = Array.from({ length: stages + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const cut = Array.from({ length: stages + 1 }, () => new Array<number>(n + 1).fill(-1));
  best[0][0] = 0;
  for (let k = 1; k <= stages; k++) {
    for (let j = k; j <= n; j++) {
      for (let i = k - 1; i < j; i++) {
        const value = Math.max(best[k - 1][i], stageCost(costs, i, j - 1));
        if (value < best[k][j]) {
          best[k][j] = value;
          cut[k][j] = i;
        }
      }
    }
  }
  const groups: number[][] = [];
  for (let k = stages, j = n; k > 0; k--) {
    const i = cut[k][j];
    groups.unshift(Array.from({ length: j - i }, (_, d) => i + d));
    j = i;
  }
  const stageCosts = groups.map((g) => stageCost(costs, g[0], g[g.length - 1]));
  const total = stageCosts.reduce((a, b) => a + b, 0);
  const busiest = Math.max(...stageCosts);
  return { groups, stageCosts, bound: busiest > 0 ? Math.min(cores, total / busiest) : 1 };
}
