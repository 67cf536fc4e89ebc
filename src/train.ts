import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { validateConfig } from './config/resolve.js';
import type { Config, ConfigInput } from './config/schema.js';
import { loadMnist, epochBatches, sequentialBatches, type Mnist } from './data/index.js';
import { Pipeline, type TrainStepResult } from './pipeline/pipeline.js';
import { stageGrouping, stageSpecs } from './pipeline/stage-spec.js';
import { stream } from './pipeline/rng.js';
import type { StageStats } from './pipeline/protocol.js';
import { RunDir, newRunId } from './metrics/run-dir.js';
import type { StageSummary, Summary } from './metrics/summary.js';
import { silentLogger, type Logger } from './log.js';
import { versions } from './versions.js';

export interface Progress {
  phase: 'train' | 'evaluate';
  epoch: number;
  epochs: number;
  /** Steps done so far and the run's planned total. */
  step: number;
  totalSteps: number;
  /** Mean training loss over the steps since the last report. */
  loss: number | null;
  samplesPerSecond: number;
}

export type EpochRecord = {
  epoch: number;
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  epochSeconds: number;
  samplesPerSecond: number;
  stages: StageStats[];
};

export interface TrainOptions {
  logger?: Logger;
  onEpoch?(record: EpochRecord): void;
  onProgress?(progress: Progress): void;
  /** Preloaded data (tests and benchmarks reuse it); otherwise loaded from config.data. */
  data?: Mnist;
}

/** Batches in flight: one for the exact schedules, `train.window` for async DNI. */
export function effectiveWindow(config: Config): number {
  return config.mode === 'backprop' || config.train.schedule === 'lockstep' ? 1 : config.train.window;
}

/** Trains a config in stage workers and returns the summary (also written to summary.json). */
export async function train(input: ConfigInput | Config, options: TrainOptions = {}): Promise<Summary> {
  const started = performance.now();
  const log = options.logger ?? silentLogger;
  const config = validateConfig(input);
  const data = options.data ?? loadMnist(config.data, { validationSize: config.train.validationSize });
  const runId = newRunId(config.preset ?? config.mode);
  const dir = new RunDir(config.out ?? join('runs', runId));
  const window = effectiveWindow(config);
  const { batchSize, epochs, maxSteps, logEvery } = config.train;
  const stepsPerEpoch = Math.floor(data.train.count / batchSize);
  if (stepsPerEpoch === 0) throw new Error(`train.batchSize ${batchSize} is larger than the training set (${data.train.count})`);
  const totalSteps = Math.min(maxSteps ?? Infinity, stepsPerEpoch * epochs);

  let recentLoss = 0;
  let recentCorrect = 0;
  let recentRows = 0;
  let recentSteps = 0;
  let epochLoss = 0;
  let epochCorrect = 0;
  let epochRows = 0;
  let epoch = 0;
  let step = 0;
  let trainMs = 0;
  let samples = 0;

  const onStep = (r: TrainStepResult) => {
    recentLoss += r.loss;
    recentCorrect += r.correct;
    recentRows += r.rows;
    recentSteps += 1;
    epochLoss += r.loss * r.rows;
    epochCorrect += r.correct;
    epochRows += r.rows;
    if (recentSteps === logEvery) {
      dir.metric({ type: 'train', epoch, step: r.step + 1, loss: recentLoss / recentSteps, accuracy: recentCorrect / recentRows });
      recentLoss = recentCorrect = recentRows = recentSteps = 0;
    }
  };

  log.info({ runId, out: dir.path, mode: config.mode, schedule: config.train.schedule, window, stages: stageGrouping(config) }, 'starting stages');
  const pipeline = await Pipeline.start(stageSpecs(config, window), {
    onStep,
    onLog: (m) => log[m.level]({ stage: m.stage, ...m.data }, m.msg),
  });
  try {
    const backend = pipeline.backends[0];
    const skipped = Object.fromEntries(pipeline.skippedBackends[0].map((s) => [s.candidate, s.reason]));
    log.info({ backends: pipeline.backends, skipped }, `stages ready on ${backend}`);
    dir.writeJson('config.json', { runId, config, backends: pipeline.backends, window, versions: versions() });

    let lastStats: StageStats[] = [];
    let val = { loss: NaN, accuracy: NaN };
    let test = { loss: NaN, accuracy: NaN };
    while (epoch < epochs && step < totalSteps) {
      epoch += 1;
      epochLoss = epochCorrect = epochRows = 0;
      const epochStart = performance.now();
      const rng = stream(config.train.seed, 'shuffle', 'epoch', epoch);
      for (const batch of epochBatches(data.train, batchSize, rng)) {
        if (step >= totalSteps) break;
        await pipeline.credit(window);
        pipeline.feed(batch, step);
        step += 1;
        samples += batch.size;
        if (options.onProgress && step % 10 === 0) {
          const seconds = (trainMs + performance.now() - epochStart) / 1000;
          options.onProgress({ phase: 'train', epoch, epochs, step, totalSteps, loss: epochRows ? epochLoss / epochRows : null, samplesPerSecond: samples / seconds });
        }
      }
      await pipeline.drain();
      const epochMs = performance.now() - epochStart;
      trainMs += epochMs;
      options.onProgress?.({ phase: 'evaluate', epoch, epochs, step, totalSteps, loss: epochLoss / epochRows, samplesPerSecond: (samples * 1000) / trainMs });
      lastStats = await pipeline.stats();
      val = await pipeline.evaluate('validation', sequentialBatches(data.validation, config.train.evalBatchSize));
      test = await pipeline.evaluate('test', sequentialBatches(data.test, config.train.evalBatchSize));
      const record: EpochRecord = {
        epoch,
        step,
        trainLoss: epochLoss / epochRows,
        trainAccuracy: epochCorrect / epochRows,
        valLoss: val.loss,
        valAccuracy: val.accuracy,
        testLoss: test.loss,
        testAccuracy: test.accuracy,
        epochSeconds: epochMs / 1000,
        samplesPerSecond: (epochRows * 1000) / epochMs,
        stages: lastStats,
      };
      dir.metric({ type: 'epoch', ...record });
      options.onEpoch?.(record);
      log.info(
        { epoch, step, trainLoss: round(record.trainLoss), valAccuracy: round(val.accuracy), testAccuracy: round(test.accuracy), samplesPerSecond: Math.round(record.samplesPerSecond) },
        `epoch ${epoch}/${epochs}`,
      );
    }

    const final = await pipeline.stop();
    const groups = stageGrouping(config);
    const perStage: StageSummary[] = final.map((s, i) => ({
      stage: s.stage,
      layers: groups[i].map((l) => describeLayer(config, l)),
      backend: pipeline.backends[i],
      busySeconds: s.busySeconds,
      waitSeconds: s.waitSeconds,
      sendSeconds: s.sendSeconds,
      updates: s.updates,
      skippedUpdates: s.skippedUpdates,
      synthesizerLoss: lastStats[i]?.synthesizerLoss ?? null,
      synthesizerCosine: lastStats[i]?.synthesizerCosine ?? null,
    }));
    const summary: Summary = {
      runId,
      outDir: dir.path,
      preset: config.preset ?? null,
      mode: config.mode,
      schedule: config.train.schedule,
      window,
      backend,
      stages: groups.length,
      epochs: epoch,
      steps: step,
      batchSize,
      wallSeconds: (performance.now() - started) / 1000,
      trainSeconds: trainMs / 1000,
      trainSamplesPerSecond: (samples * 1000) / trainMs,
      valAccuracy: val.accuracy,
      valLoss: val.loss,
      testAccuracy: test.accuracy,
      testLoss: test.loss,
      perStage,
    };
    dir.writeJson('summary.json', summary);
    return summary;
  } catch (error) {
    await pipeline.destroy();
    throw error;
  }
}

function describeLayer(config: Config, index: number): string {
  const layer = config.model.layers[index];
  const input = index === 0 ? config.model.inputUnits : config.model.layers[index - 1].units;
  const extras = [layer.batchNorm ? 'batchnorm' : '', layer.activation].filter(Boolean).join('+');
  return `${index}: dense ${input}->${layer.units} ${extras}`;
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
