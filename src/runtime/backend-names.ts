/** The backends a config may ask for: 'auto' tries them in order (see backend.ts). */
export const backendNames = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;

export type BackendName = (typeof backendNames)[number];
