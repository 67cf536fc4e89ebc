import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '../runtime/backend.js';
import { bitsPerCharacter, buildSequenceRun } from './build.js';
import type { LogSums, SequenceRecord, SequenceWorkerData, SequenceWorkerMessage } from './protocol.js';
import { addWindow, emptySums } from './log-sums.js';

/**
 * A sequence run's own worker thread, with its own tfjs backend: trains window after window,
 * posting metrics lines and checkpoints to the thread that started it.
 */
async function main(): Promise<void> {
  const data = workerData as SequenceWorkerData;
  const { config } = data;
  const post = (message: SequenceWorkerMessage) => parentPort!.postMessage(message);
  const backend = (await selectBackend(config.backend)).name;
  const { task, trainer, corpus } = buildSequenceRun(config);
  const stop = new Int32Array(data.stop);
  let sums: LogSums = emptySums();
  if (data.checkpoint) {
    trainer.importState(data.checkpoint.trainer as Parameters<typeof trainer.importState>[0]);
    sums = { ...data.checkpoint.log };
  }
  const checkpoint = async () => post({ type: 'checkpoint', step: trainer.step, checkpoint: { trainer: await trainer.exportState(), log: { ...sums } } });
  const started = performance.now();
  let stopped = false;
  while (trainer.step < config.maxSteps) {
    addWindow(sums, trainer.trainWindow());
    if (trainer.step % config.logEvery === 0 || trainer.step === config.maxSteps) {
      const mean = (v: number) => (sums.synth ? v / sums.synth : null);
      const record: SequenceRecord = {
        step: trainer.step,
        timeSteps: trainer.step * config.window,
        loss: sums.loss / sums.windows,
        ...task.figures(),
        synthesizerLoss: mean(sums.synthLoss),
        synthesizerCosine: mean(sums.synthCosine),
        auxLoss: config.mode === 'dni+aux' ? mean(sums.auxLoss) : null,
        seconds: (performance.now() - started) / 1000,
      };
      post({ type: 'record', record });
      sums = emptySums();
    }
    if (config.checkpointEvery && trainer.step % config.checkpointEvery === 0) await checkpoint();
    if (Atomics.load(stop, 0) === 1 || trainer.step === data.stopAfter) {
      stopped = trainer.step < config.maxSteps;
      break;
    }
  }
  await checkpoint();
  const figures = task.figures();
  let bpc = null;
  if (corpus && !stopped) {
    const valid = bitsPerCharacter(trainer, corpus, 'valid', config.charLm.evalChars);
    const test = bitsPerCharacter(trainer, corpus, 'test', config.charLm.evalChars);
    bpc = { valid: valid.bpc, test: test.bpc, chars: test.chars };
  }
  post({
    type: 'done',
    result: { backend, steps: trainer.step, stopped, figures, bpc, corpus: corpus?.source ?? null, vocabulary: corpus?.vocabulary.length ?? null },
  });
  trainer.dispose();
}

main().catch((error: unknown) => {
  // the starting thread sees the worker's 'error' event with this error
  throw error;
});
