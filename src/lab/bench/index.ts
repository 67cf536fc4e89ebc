/** synthgrad bench: throughput of schedules, the parallelism they could reach, and the load others put on the machine. */
export { runBench, benchConfigNames, defaultBenchDir, faster, warmupSteps, type BenchOptions, type BenchPlanItem } from './bench.js';
export type { BenchResult, MeasuredCeiling } from './result.js';
export { benchTable, speedupLine, referenceLines } from './table.js';
export { aggregate, pairedRatio, runRecord, samplesPerSecondAfter, speedups, type WarmupMark, type ConfigAggregate, type RunFigures, type RunRecord, type Speedup, type StageFigures, type StageShares } from './analysis.js';
export { parallelismBound, utilisation, sendShare } from './bound.js';
export { median } from './stats.js';
export { interleave, parseConfigName, defaultConfigNames, SEQUENTIAL, type BenchConfigName, type PlannedRun } from './plan.js';
export { trainSequential, trainingOrder, SequentialStages, type SequentialOptions, type SequentialResult } from './sequential.js';
export { parseProcStat, readCpuTimes, USER_HZ, type CpuTimes } from './proc-stat.js';
export { othersLoad, startLoadMeter, totalLoad, type LoadSample } from './load.js';
export { measureMatMulCeiling, useWasmBackend, describeCeiling, type MatMulCeiling, type MatMulOptions } from './matmul-ceiling.js';
export { stageFlops, denseFlops, phaseFlops, type StageFlops } from './flops.js';
export { machineInfo, type MachineInfo } from './machine.js';
export { benchConfig, scheduleAccepted, type BenchBase } from './configs.js';
export { findTorchPython, probeTorch, parseReferenceOutput, referenceRequest, runReference, HOW_TO_GET_TORCH, DEFAULT_PYTHONS, REFERENCE_SCRIPT, type ReferenceRequest, type ReferenceOutput, type TorchProbe } from './reference.js';
export { referenceRatios, referenceName, referenceBlas, type ReferenceRun, type ReferenceRatio } from './reference-pairs.js';
export { referenceSettings, settingName, tuneReference, type ReferenceSetting, type ReferenceTuning, type SettingTrial } from './reference-settings.js';
