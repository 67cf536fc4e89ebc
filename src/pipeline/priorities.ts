/** The largest nice value Linux allows. */
export const MAX_NICE = 19;

/**
 * Nice values that make the kernel's shares of CPU follow each stage's measured work. When there
 * are more stage threads than cores, a fair scheduler gives every runnable stage the same share,
 * so the busiest stage, which sets the pace of the pipeline, gets no more CPU than a light one.
 * Linux's CFS weighs a thread by about 1.25^-nice: stage s gets
 * nice = round(log(busiest / work[s]) / log(1.25)), so its weight is about in proportion to the
 * CPU time it needs (work: seconds per stage over the same steps); the busiest stage keeps nice 0.
 * Values are capped at MAX_NICE; a stage with no measured work gets MAX_NICE.
 */
export function stageNiceness(work: readonly number[]): number[] {
  const busiest = Math.max(...work);
  if (!(busiest > 0)) return work.map(() => 0);
  return work.map((w) =>
    w > 0 ? Math.min(MAX_NICE, Math.max(0, Math.round(Math.log(busiest / w) / Math.log(1.25)))) : MAX_NICE,
  );
}
