import { readdirSync } from 'node:fs';

/**
 * WebGPU in Node: Dawn's binding (the optional package `webgpu`, a prebuilt dawn.node inside) gives
 * this thread its own GPU device, on which @tensorflow/tfjs-backend-webgpu runs. Each worker thread
 * that calls startWebGpu gets a device of its own.
 */

/** What a stage reports of the adapter it got. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation of the API (Mesa's lavapipe/llvmpipe, SwiftShader, WARP): correct, not fast. */
  software: boolean;
}

/** Names by which software adapters describe themselves (Mesa, Google, Microsoft). */
const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|microsoft basic render|warp/i;

/** Whether an adapter runs on the CPU: it says so (isFallbackAdapter, architecture) or is named as one. */
export function isSoftwareAdapter(info: Omit<AdapterInfo, 'software'> & { isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter) return true;
  return [info.architecture, info.device, info.description, info.vendor].some((field) => SOFTWARE.test(field ?? ''));
}

interface DawnModule {
  create(options: string[]): { requestAdapter(options?: object): Promise<DawnAdapter | null> };
  globals: object;
}
interface DawnAdapter {
  info: Omit<AdapterInfo, 'software'> & { isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/**
 * Loads Dawn, installs WebGPU's globals and `navigator.gpu` in this thread, and returns the adapter
 * tfjs-backend-webgpu will take (the default request, as the backend makes it). Throws with the
 * reason when the package is missing or no adapter is offered.
 */
export async function startWebGpu(): Promise<AdapterInfo> {
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (error) {
    throw new Error(`the optional package 'webgpu' (Dawn for Node) did not load: ${String((error as Error).message).split('\n')[0]}`);
  }
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    Object.assign(globalThis, dawn.globals);
    // Node 21+ has a read-only navigator: define the property rather than assign it
    Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: dawn.create([]) }, configurable: true, writable: true });
  }
  const gpu = (globalThis as unknown as { navigator: { gpu: ReturnType<DawnModule['create']> } }).navigator.gpu;
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    throw new Error(
      'WebGPU offers no adapter: no Vulkan/Metal/D3D12 driver was found (on Debian without a GPU, install lavapipe: ' +
        'apt-get install -t bookworm-backports mesa-vulkan-drivers, and set XDG_RUNTIME_DIR)',
    );
  }
  return adapterInfo(adapter);
}

/**
 * Every adapter Dawn offers this thread (the default one, both power preferences and the fallback
 * adapter, told apart by their description), after startWebGpu; an empty list when none.
 */
export async function listAdapters(): Promise<AdapterInfo[]> {
  const gpu = (globalThis as unknown as { navigator?: { gpu?: ReturnType<DawnModule['create']> } }).navigator?.gpu;
  if (!gpu) return [];
  const found = new Map<string, AdapterInfo>();
  for (const options of [{}, { powerPreference: 'high-performance' }, { powerPreference: 'low-power' }, { forceFallbackAdapter: true }]) {
    const adapter = await gpu.requestAdapter(options).catch(() => null);
    if (!adapter) continue;
    const info = adapterInfo(adapter);
    found.set(`${info.vendor}|${info.device}|${info.description}`, info);
  }
  return [...found.values()];
}

function adapterInfo(adapter: DawnAdapter): AdapterInfo {
  const info = adapter.info;
  const fields = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '' };
  return { ...fields, software: isSoftwareAdapter({ ...fields, isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter }) };
}

/**
 * Linux: whether the machine has a GPU device node at all (a DRM render node, or NVIDIA's device).
 * Without one, any adapter Dawn finds is a software one, and `auto` need not start Dawn to learn
 * that (starting it on lavapipe prints Dawn's warnings on stderr, among the JSON log lines).
 * Elsewhere: null, unknown.
 */
export function gpuDeviceNodes(): string[] | null {
  if (process.platform !== 'linux') return null;
  const list = (dir: string, pattern: RegExp) => {
    try {
      return readdirSync(dir).filter((f) => pattern.test(f)).map((f) => `${dir}/${f}`);
    } catch {
      return [];
    }
  };
  return [...list('/dev/dri', /^renderD\d+$/), ...list('/dev', /^nvidia\d+$/)];
}

/** One line naming an adapter for the log. */
export function describeAdapter(a: AdapterInfo): string {
  const kind = a.software ? 'software' : 'hardware';
  return `${a.vendor || 'unknown vendor'} ${a.architecture || ''} (${a.description || a.device || 'no description'}; ${kind})`.replace(/\s+/g, ' ');
}
