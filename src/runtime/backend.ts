import * as tf from '@tensorflow/tfjs-core';
// the pure-JS backend, the last fallback (tfjs-core alone registers none)
import '@tensorflow/tfjs-backend-cpu';
import type { BackendName } from './backend-names.js';
import { describeAdapter, gpuDeviceNodes, startWebGpu, type AdapterInfo } from './webgpu.js';

export interface BackendChoice {
  /** The tfjs backend in use: 'tensorflow', 'webgpu', 'wasm' or 'cpu'. */
  name: string;
  /** The GPU adapter the webgpu backend runs on; null on the others. */
  adapter: AdapterInfo | null;
  /** The package or backend that was tried first and why it was not taken, in order. */
  skipped: { candidate: string; reason: string }[];
}

type Candidate = 'tfjs-node-gpu' | 'tfjs-node' | 'webgpu' | 'wasm' | 'cpu';

/**
 * auto: CUDA through libtensorflow, then a hardware GPU through WebGPU, then wasm. A software
 * WebGPU adapter (lavapipe, SwiftShader) is slower than wasm: auto passes it over, an explicit
 * --backend webgpu takes it.
 */
const order: Record<BackendName, Candidate[]> = {
  auto: ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'],
  tensorflow: ['tfjs-node-gpu', 'tfjs-node'],
  webgpu: ['webgpu'],
  wasm: ['wasm'],
  cpu: ['cpu'],
};

type Started = Omit<BackendChoice, 'skipped'>;

async function start(candidate: Candidate, requested: BackendName): Promise<Started> {
  switch (candidate) {
    case 'tfjs-node-gpu':
    case 'tfjs-node': {
      // Optional packages: their install downloads libtensorflow and fails without internet.
      const specifier = `@tensorflow/${candidate}`;
      await import(specifier).catch((error: unknown) => {
        throw new Error(nativeProblem(specifier, firstLine(error)));
      });
      return { name: await activate('tensorflow'), adapter: null };
    }
    case 'webgpu': {
      if (requested === 'auto' && gpuDeviceNodes()?.length === 0) {
        throw new Error('no GPU device on this machine (no /dev/dri/renderD*, /dev/nvidia*): only a software adapter could run, taken only with --backend webgpu');
      }
      const adapter = await startWebGpu();
      if (adapter.software && requested === 'auto') {
        throw new Error(`only a software adapter, ${describeAdapter(adapter)}: slower than wasm, taken only with --backend webgpu`);
      }
      await import('@tensorflow/tfjs-backend-webgpu');
      return { name: await activate('webgpu'), adapter };
    }
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return { name: await activate('wasm'), adapter: null };
    case 'cpu':
      return { name: await activate('cpu'), adapter: null };
  }
}

async function activate(name: string): Promise<string> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed to initialise`);
  await tf.ready();
  if (name === 'cpu') {
    // The cpu backend nags once about tfjs-node on first use; we log our own reason instead.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
  return name;
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0];
}

/** What went wrong loading tfjs-node(-gpu), in terms of what to do (docs/backends.md has the steps). */
export function nativeProblem(specifier: string, message: string): string {
  if (/Cannot find (package|module) '@tensorflow\/tfjs-node/.test(message)) {
    return `${specifier} is not installed (optional: \`npm install ${specifier}\` on a machine with internet, see docs/backends.md)`;
  }
  if (/tfjs_binding\.node/.test(message)) {
    return `${specifier} is installed without its native binding, which its install script downloads with libtensorflow (run \`npm rebuild ${specifier}\` with internet, see docs/backends.md): ${message}`;
  }
  return message;
}

/** Starts the first backend that works, in the order `requested` allows; says why others were skipped. */
export async function selectBackend(requested: BackendName): Promise<BackendChoice> {
  const skipped: BackendChoice['skipped'] = [];
  for (const candidate of order[requested]) {
    try {
      return { ...(await start(candidate, requested)), skipped };
    } catch (error) {
      skipped.push({ candidate, reason: firstLine(error) });
    }
  }
  const reasons = skipped.map((s) => `${s.candidate}: ${s.reason}`).join('; ');
  const hints: Partial<Record<BackendName, string>> = {
    tensorflow: ' (install @tensorflow/tfjs-node or -gpu with libtensorflow available, see docs/backends.md, or use --backend wasm)',
    webgpu: ' (see docs/backends.md: the optional packages webgpu and @tensorflow/tfjs-backend-webgpu, and a Vulkan, Metal or D3D12 driver)',
  };
  const hint = hints[requested] ?? '';
  throw new Error(`no backend could start for --backend ${requested}${hint}: ${reasons}`);
}
