import * as tf from '@tensorflow/tfjs-core';
// the pure-JS backend, the last fallback (tfjs-core alone registers none)
import '@tensorflow/tfjs-backend-cpu';
import type { BackendName } from '../config/schema.js';

export interface BackendChoice {
  /** The tfjs backend in use: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** The package or backend that was tried first and why it was not taken, in order. */
  skipped: { candidate: string; reason: string }[];
}

type Candidate = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';

const order: Record<BackendName, Candidate[]> = {
  auto: ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'],
  tensorflow: ['tfjs-node-gpu', 'tfjs-node'],
  wasm: ['wasm'],
  cpu: ['cpu'],
};

async function start(candidate: Candidate): Promise<string> {
  switch (candidate) {
    case 'tfjs-node-gpu':
    case 'tfjs-node': {
      // Optional packages: their install downloads libtensorflow and fails without internet.
      const specifier = `@tensorflow/${candidate}`;
      await import(specifier);
      return activate('tensorflow');
    }
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return activate('wasm');
    case 'cpu':
      return activate('cpu');
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

/** Starts the first backend that works, in the order `requested` allows; says why others were skipped. */
export async function selectBackend(requested: BackendName): Promise<BackendChoice> {
  const skipped: BackendChoice['skipped'] = [];
  for (const candidate of order[requested]) {
    try {
      return { name: await start(candidate), skipped };
    } catch (error) {
      skipped.push({ candidate, reason: firstLine(error) });
    }
  }
  const reasons = skipped.map((s) => `${s.candidate}: ${s.reason}`).join('; ');
  const hint =
    requested === 'tensorflow'
      ? ' (install @tensorflow/tfjs-node or -gpu with libtensorflow available, or use --backend wasm)'
      : '';
  throw new Error(`no backend could start for --backend ${requested}${hint}: ${reasons}`);
}
