/** Kernel initializers: a [fanIn, fanOut] (dense) or [k, k, in, filters] (conv) row-major kernel drawn from `rng` (uniform in [0, 1)). */

function uniform(n: number, limit: number, rng: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng() - 1) * limit;
  return out;
}

function checkFans(fanIn: number, fanOut: number): void {
  if (!Number.isInteger(fanIn) || fanIn < 1 || !Number.isInteger(fanOut) || fanOut < 1) {
    throw new Error(`fanIn and fanOut must be positive integers, got ${fanIn} and ${fanOut}`);
  }
}

/** Glorot (Xavier) uniform: U(-limit, limit), limit = sqrt(6 / (fanIn + fanOut)). Length fanIn*fanOut. */
export function glorotUniform(fanIn: number, fanOut: number, rng: () => number): Float32Array {
  checkFans(fanIn, fanOut);
  return uniform(fanIn * fanOut, Math.sqrt(6 / (fanIn + fanOut)), rng);
}

/** He uniform: U(-limit, limit), limit = sqrt(6 / fanIn). Length fanIn*fanOut. */
export function heUniform(fanIn: number, fanOut: number, rng: () => number): Float32Array {
  checkFans(fanIn, fanOut);
  return uniform(fanIn * fanOut, Math.sqrt(6 / fanIn), rng);
}

/**
 * Glorot uniform for a conv kernel [kernelSize, kernelSize, inChannels, filters] (row-major), with
 * Keras's fans: fanIn = k*k*inChannels, fanOut = k*k*filters. Length k*k*inChannels*filters.
 */
export function glorotUniformConv(kernelSize: number, inChannels: number, filters: number, rng: () => number): Float32Array {
  const area = kernelSize * kernelSize;
  checkFans(area * inChannels, area * filters);
  return uniform(area * inChannels * filters, Math.sqrt(6 / (area * (inChannels + filters))), rng);
}

/** He uniform for a conv kernel [kernelSize, kernelSize, inChannels, filters]: limit sqrt(6 / (k*k*inChannels)). */
export function heUniformConv(kernelSize: number, inChannels: number, filters: number, rng: () => number): Float32Array {
  const area = kernelSize * kernelSize;
  checkFans(area * inChannels, area * filters);
  return uniform(area * inChannels * filters, Math.sqrt(6 / (area * inChannels)), rng);
}
