/** Step schedule: the base rate times factor^(number of decay steps already reached). */
export function learningRateAt(step: number, base: number, decaySteps: number[], factor: number): number {
  let rate = base;
  for (const boundary of decaySteps) if (step >= boundary) rate *= factor;
  return rate;
}
