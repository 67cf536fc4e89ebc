/**
 * The speedup over running the stages one after another that the measured busy times allow:
 * min(cores, Σ busy / max busy). Sequential (and backprop in lockstep) takes about Σ busy per
 * batch; a parallel schedule can take no less than the slowest stage (max busy) nor less than Σ
 * busy spread over every core. (DNI lockstep already overlaps stages: see sequential.ts.)
 */
export function parallelismBound(busySeconds: readonly number[], cores: number): number {
  const max = Math.max(...busySeconds);
  if (!(max > 0)) return NaN;
  const sum = busySeconds.reduce((a, b) => a + b, 0);
  return Math.min(cores, sum / max);
}

/** Share of a stage's time spent working: busy / (busy + wait); NaN when it never ran. */
export function utilisation(busySeconds: number, waitSeconds: number): number {
  const total = busySeconds + waitSeconds;
  return total > 0 ? busySeconds / total : NaN;
}

/** A time as a share of a stage's busy time: sending (part of busy), receiving (outside it), or both. */
export function sendShare(sendSeconds: number, busySeconds: number): number {
  return busySeconds > 0 ? sendSeconds / busySeconds : NaN;
}
