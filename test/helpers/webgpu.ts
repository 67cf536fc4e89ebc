import { startWebGpu, type AdapterInfo } from '../../src/runtime/webgpu.js';

/**
 * The WebGPU adapter this machine offers, for the tests that run on one. None is a failure, not a
 * skip: CI installs lavapipe (Mesa's software Vulkan) so that these tests run everywhere.
 */
export async function requireAdapter(): Promise<AdapterInfo> {
  try {
    return await startWebGpu();
  } catch (error) {
    throw new Error(
      `this test needs a WebGPU adapter and found none (${(error as Error).message}). Install one: on Debian bookworm, ` +
        'add bookworm-backports and `apt-get install -t bookworm-backports mesa-vulkan-drivers` (lavapipe, Mesa 25; ' +
        "bookworm's own 22.3 is too old for Dawn), or `npm test` with its set-up step, which does this",
    );
  }
}
