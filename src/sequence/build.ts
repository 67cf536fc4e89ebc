import { CharLmTask, TextStreams } from './char-lm.js';
import { loadCorpus, type Corpus } from './corpus.js';
import { CopyTask } from './copy.js';
import type { SequenceConfig } from './config.js';
import type { SequenceTask } from './task.js';
import { SequenceTrainer } from './trainer.js';

/** The task and trainer a config describes (the corpus is read here, for char-lm). */
export function buildSequenceRun(config: SequenceConfig): { task: SequenceTask; trainer: SequenceTrainer; corpus: Corpus | null } {
  const corpus = config.task === 'char-lm' ? loadCorpus(config.charLm.data) : null;
  const task: SequenceTask = corpus
    ? new CharLmTask(corpus, config.batch)
    : new CopyTask({
        variant: config.task === 'repeat-copy' ? 'repeat-copy' : 'copy',
        batch: config.batch,
        bits: config.copy.bits,
        maxRepeats: config.copy.maxRepeats,
        curriculum: { threshold: config.copy.threshold, window: config.copy.episodes, start: 1 },
        seed: config.seed,
      });
  const trainer = new SequenceTrainer(task, config.batch, {
    mode: config.mode,
    window: config.window,
    units: config.units,
    learningRate: config.learningRate,
    synthesizerLayers: config.synthesizer.hiddenLayers,
    synthesizerActivation: config.synthesizer.activation,
    synthesizerCell: config.synthesizer.cell,
    synthesizerLearningRate: config.synthesizer.learningRate,
    discount: config.synthesizer.discount,
    gradientAt: config.synthesizer.gradientAt,
    conditioned: config.synthesizer.conditioned,
    replay: config.synthesizer.replay,
    seed: config.seed,
  });
  return { task, trainer, corpus };
}

/** Steps per evaluation window (forward only, so its length does not change the result). */
export const EVAL_STEPS = 64;

/**
 * Bits per character on a split: `batch` contiguous streams from a zero state, the first `chars`
 * characters of the split spread over them (0: the whole split).
 */
export function bitsPerCharacter(trainer: SequenceTrainer, corpus: Corpus, split: 'valid' | 'test', chars: number): { bpc: number; chars: number } {
  const streams = new TextStreams(corpus[split], corpus.vocabulary.length, trainer.batch);
  const whole = streams.windowsPerPass(EVAL_STEPS);
  const windows = chars > 0 ? Math.min(whole, Math.ceil(chars / (EVAL_STEPS * trainer.batch))) : whole;
  const { nats, scored } = trainer.evaluate((steps) => streams.next(steps), windows, EVAL_STEPS);
  return { bpc: nats / scored / Math.LN2, chars: scored };
}
