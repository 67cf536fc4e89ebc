/** synthgrad: Decoupled Neural Interfaces (synthetic gradients), every stage in its own worker. */
export { train, resume, effectiveWindow, RunError, type TrainOptions, type Progress, type EpochRecord } from './train.js';
export { presets, presetNames, defaultPreset, type PresetName } from './config/presets.js';
export { mnistFcn, mnistFcnDepths } from './config/mnist-fcn.js';
export { withBudget } from './lab/paper/budget.js';
export { resolveConfig, validateConfig, type ConfigSources } from './config/resolve.js';
export type { Config, ConfigInput, Mode, Schedule, BackendName, LayerConfig } from './config/schema.js';
export { ConfigError } from './config/errors.js';
export { DataError, loadMnist, type Mnist } from './data/index.js';
export { OutputError } from './metrics/run-dir.js';
export { StageError } from './pipeline/stage-error.js';
export type { Summary, StageSummary } from './run/summary.js';
export { CheckpointError } from './checkpoint/manifest.js';
export { writeReport, ReportError } from './lab/report/index.js';
export { TransportError } from './transport/nats/nats-errors.js';
export type { NatsRunOptions } from './train.js';
