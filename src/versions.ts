import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function versionOf(pkg: string): string | null {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

/** Versions recorded in config.json, so a run can be reproduced. */
export function versions(): Record<string, string | null> {
  return {
    synthgrad: (require('../../package.json') as { version: string }).version,
    node: process.versions.node,
    tfjs: versionOf('@tensorflow/tfjs-core'),
    'tfjs-backend-wasm': versionOf('@tensorflow/tfjs-backend-wasm'),
  };
}
