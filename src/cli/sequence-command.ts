import { Command, Option } from 'commander';
import { ConfigError } from '../config/errors.js';
import { HIDDEN_ACTIVATIONS } from '../model/dense.js';
import { resolveSequenceConfig, sequencePresets } from '../sequence/config.js';
import { resumeSequence, runSequence, type SequenceSummary } from '../sequence/run.js';
import { SEQUENCE_MODES, SYNTHESIZER_CELLS } from '../sequence/trainer.js';
import { layerWidths, number, positiveInt, seed, wholeNumber } from './flags.js';
import { signalExitCode } from '../run/signal-exit.js';

interface SequenceFlags {
  preset?: string;
  layers?: number;
  depth?: string;
  schedule?: string;
  inFlight?: number;
  transport?: string;
  task?: string;
  mode?: string;
  window?: number;
  units?: number;
  batchSize?: number;
  lr?: number;
  synthesizerLayers?: number[];
  synthesizerLr?: number;
  discount?: number;
  synthesizerActivation?: string;
  synthesizerCell?: string;
  gradientAt?: string;
  conditioned?: boolean;
  replay?: number;
  seed?: number | string;
  maxSteps?: number;
  backend?: string;
  logEvery?: number;
  checkpointEvery?: number;
  bits?: number;
  maxRepeats?: number;
  threshold?: number;
  episodes?: number;
  data?: string;
  evalChars?: number;
  out?: string;
  resume?: string;
}

/** The flags as a partial config (undefined: not given). */
function overrides(f: SequenceFlags): Record<string, unknown> {
  const some = (o: Record<string, unknown>) => (Object.values(o).some((v) => v !== undefined) ? Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) : undefined);
  return {
    layers: f.layers,
    depth: f.depth,
    schedule: f.schedule,
    inFlight: f.inFlight,
    transport: f.transport,
    task: f.task,
    mode: f.mode,
    window: f.window,
    units: f.units,
    batch: f.batchSize,
    learningRate: f.lr,
    seed: f.seed,
    maxSteps: f.maxSteps,
    backend: f.backend,
    logEvery: f.logEvery,
    checkpointEvery: f.checkpointEvery,
    synthesizer: some({ hiddenLayers: f.synthesizerLayers, activation: f.synthesizerActivation, cell: f.synthesizerCell, learningRate: f.synthesizerLr, discount: f.discount, gradientAt: f.gradientAt, conditioned: f.conditioned, replay: f.replay }),
    copy: some({ bits: f.bits, maxRepeats: f.maxRepeats, threshold: f.threshold, episodes: f.episodes }),
    charLm: some({ data: f.data, evalChars: f.evalChars }),
  };
}

/** One line per finished or stopped run. */
export function sequenceSummaryText(s: SequenceSummary): string {
  const figure =
    s.bpc !== null
      ? `test ${s.bpc.test.toFixed(3)} bpc, valid ${s.bpc.valid.toFixed(3)} bpc (${s.bpc.chars} characters each)`
      : s.solved !== null
        ? `largest length solved ${s.solved} (now at ${s.figures.length})`
        : `train ${s.figures.trainBpc?.toFixed(3)} bpc`;
  const deep = s.deep ? ` ${s.layers} layers (depth ${s.deep.depth}, ${s.deep.schedule}, ${s.deep.transport})` : '';
  return `${s.task} ${s.mode}${deep} T=${s.window}: ${s.steps} windows (${s.timeSteps} steps a stream), ${figure}; ${s.wallSeconds.toFixed(1)} s on ${s.backend}\n  run: ${s.outDir}`;
}

export function sequenceCommand(): Command {
  return new Command('sequence')
    .description('train an LSTM on a sequence task by truncated BPTT, with a synthetic gradient at each window boundary (dni)')
    .addOption(new Option('--preset <name>', 'task and mode').choices(Object.keys(sequencePresets)))
    .addOption(new Option('--task <name>', 'Copy, Repeat Copy or character language model').choices(['copy', 'repeat-copy', 'char-lm']))
    .addOption(new Option('--mode <mode>', 'bptt (cut at the window end), dni, dni+aux').choices([...SEQUENCE_MODES]))
    .option('--layers <n>', 'LSTM layers; more than one (char-lm): one stage per layer, each in its own worker or process', positiveInt)
    .addOption(new Option('--depth <gradient>', 'several layers: the gradient between stages').choices(['backprop', 'dni', 'cdni']))
    .addOption(new Option('--schedule <name>', 'several layers: one window at a time (deterministic) or several in flight').choices(['lockstep', 'async']))
    .option('--in-flight <n>', 'several layers, async: windows in flight at once', positiveInt)
    .addOption(new Option('--transport <name>', 'several layers: worker threads, or one process per stage over NATS (a local nats-server)').choices(['threads', 'nats']))
    .option('--window <T>', 'time steps per window of truncated BPTT', positiveInt)
    .option('--units <n>', 'LSTM units', positiveInt)
    .option('--batch-size <n>', 'streams side by side', positiveInt)
    .option('--lr <rate>', 'Adam learning rate of the LSTM and readout', number)
    .option('--synthesizer-layers <widths>', "hidden widths of the time synthesizer, e.g. '128' ('' for linear)", layerWidths)
    .addOption(new Option('--synthesizer-activation <name>', "the time synthesizer's hidden activation (leaky-relu: slope 0.01 below zero)").choices([...HIDDEN_ACTIVATIONS]))
    .addOption(new Option('--synthesizer-cell <what>', 'one layer: what the time synthesizer reads of the cell state, c or tanh c (bounded)').choices([...SYNTHESIZER_CELLS]))
    .option('--synthesizer-lr <rate>', 'Adam learning rate of the time synthesizer', number)
    .option('--discount <gamma>', 'the synthetic gradient applied is gamma·M(s): M learns a discounted sum of future gradients (1: undiscounted)', number)
    .addOption(new Option('--gradient-at <where>', "one layer: the synthetic gradient enters at the whole state [h, c] or at h alone (several layers: always h)").choices(['state', 'h']))
    .option('--conditioned', "one layer: the time synthesizer also sees the next window's targets (privileged information, as cDNI's labels)")
    .option('--replay <n>', 'one layer: the time synthesizer trains on this boundary and the n - 1 before it (their states and targets as they were), in one step', positiveInt)
    .option('--seed <seed>', 'seed of every random stream', seed)
    .option('--max-steps <n>', 'windows to train (one Adam step each)', positiveInt)
    .addOption(new Option('--backend <name>', 'tfjs backend in the worker').choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .option('--log-every <n>', 'a metrics.jsonl line every n windows', positiveInt)
    .option('--checkpoint-every <n>', 'also checkpoint every n windows (always at the end and on SIGINT)', positiveInt)
    .option('--bits <n>', 'copy tasks: width of each random vector', positiveInt)
    .option('--max-repeats <n>', 'repeat-copy: R is drawn from 1..n', positiveInt)
    .option('--threshold <bits>', 'copy tasks: the length grows when the mean error per sequence is below this', number)
    .option('--episodes <n>', 'copy tasks: episodes the curriculum averages', positiveInt)
    .option('--data <file>', 'char-lm: a plain-text file, or ptb.char.train.txt (valid and test read beside it); default: the Brown Corpus')
    .option('--eval-chars <n>', 'char-lm: characters of valid and of test scored at the end (0: all)', wholeNumber)
    .option('--out <dir>', 'run directory (default runs/<run id>); must be new or empty')
    .option('--resume <run-dir>', 'continue a stopped sequence run from its checkpoint, with its own config')
    .action(async (flags: SequenceFlags) => {
      const given = Object.entries(overrides(flags)).filter(([, v]) => v !== undefined);
      if (flags.resume && (given.length || flags.preset || flags.out)) {
        throw new ConfigError('flags', [`--resume continues with the run's own config; drop the other flags`]);
      }
      const stop = new AbortController();
      let signalName: NodeJS.Signals | null = null;
      const onSignal = (name: NodeJS.Signals) => {
        if (signalName) process.exit(signalExitCode(name));
        signalName = name;
        process.stderr.write(`synthgrad: ${name}: finishing the window, then checkpointing (again to quit at once)\n`);
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const summary = flags.resume
          ? await resumeSequence(flags.resume, { signal: stop.signal })
          : await runSequence(resolveSequenceConfig(flags.preset, overrides(flags)), flags.preset ?? null, flags.out, { signal: stop.signal });
        process.stdout.write(sequenceSummaryText(summary) + '\n');
        if (summary.stopped) {
          process.stdout.write(`  stopped at window ${summary.steps}; continue with: synthgrad sequence --resume ${summary.outDir}\n`);
          process.exitCode = signalExitCode(signalName ?? 'SIGINT');
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
