/**
 * Profiles ONE stage alone, in this thread, on synthetic inputs of the right shape: how fast its
 * DNI steps run, how many FLOPs they do, and how that compares with the backend's matMul ceiling.
 *
 *   node dist/scripts/profile-stage.js --stage 0 --preset mnist-cdni --steps 200 [--backend wasm]
 *        [--batch-size 128] [--cpuprofile stage0.cpuprofile]
 *
 * No workers, no messages between threads: the stage's links only count what it sends. Every
 * step runs steps 1-4 (forward), then, for a stage that gets targets from above, step 5 with a
 * random target for that same batch (as the lockstep schedule orders them).
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolveConfig } from '../src/config/resolve.js';
import { presetNames, defaultPreset } from '../src/config/presets.js';
import { ConfigError } from '../src/config/errors.js';
import { effectiveWindow } from '../src/train.js';
import { stageSpecs, isLast } from '../src/pipeline/stage-spec.js';
import { Stage, type StageLinks } from '../src/pipeline/stage.js';
import type { BackwardMessage, ForwardMessage } from '../src/pipeline/protocol.js';
import { stream } from '../src/pipeline/rng.js';
import { selectBackend } from '../src/runtime/backend.js';
import { BatchNorm, Dense, type Layer } from '../src/model/index.js';
import { measureMatMulCeiling, describeCeiling } from '../src/bench/matmul-ceiling.js';
import { stageFlops, phaseFlops, type StageFlops } from '../src/bench/flops.js';

interface Flags {
  stage: number;
  preset: string;
  steps: number;
  warmup: number;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  batchSize?: number;
  cpuprofile?: string;
}

function int(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}, got "${value}"`);
    return n;
  };
}

const mega = (x: number) => `${(x / 1e6).toFixed(1)}M`;

function describe(layers: readonly Layer[]): string {
  return layers
    .map((l) =>
      l instanceof Dense ? `dense ${l.inputUnits}->${l.outputUnits}${l.activation === 'relu' ? ' relu' : ''}` : l instanceof BatchNorm ? 'batchnorm' : l.name,
    )
    .join(', ');
}

/** Links that count what the stage sends and keep nothing. */
function countingLinks() {
  const sent = { forward: 0, backward: 0, reports: 0 };
  const links: StageLinks = {
    forward: () => void (sent.forward += 1),
    backward: () => void (sent.backward += 1),
    report: () => void (sent.reports += 1),
  };
  return { sent, links };
}

async function profile(flags: Flags): Promise<void> {
  const config = resolveConfig({ preset: flags.preset, overrides: { backend: flags.backend, train: { batchSize: flags.batchSize } } });
  const specs = stageSpecs(config, effectiveWindow(config));
  if (flags.stage >= specs.length) {
    throw new ConfigError('--stage', [`${flags.preset} has ${specs.length} stages (0..${specs.length - 1}), not stage ${flags.stage}`]);
  }
  const spec = specs[flags.stage];
  const backend = await selectBackend(config.backend);
  const ceiling = await measureMatMulCeiling();

  const { sent, links } = countingLinks();
  const stage = new Stage(spec, links);
  const B = config.train.batchSize;
  const outUnits = stage.net.outputUnits ?? spec.inputUnits;
  // targets from above: the synthesizer's (DNI) or the true gradient (backprop); the last stage has none
  const takesTargets = !isLast(spec);
  const rng = stream(config.train.seed, 'profile', 'stage', spec.index);
  const pool = Array.from({ length: 4 }, () => ({
    activations: new Float32Array(B * spec.inputUnits).map(() => rng()),
    labels: new Uint8Array(B).map(() => Math.floor(rng() * spec.classes)),
    target: takesTargets ? new Float32Array(B * outUnits).map(() => (rng() - 0.5) / B) : null,
  }));
  const forwardOf = (step: number): ForwardMessage => {
    const p = pool[step % pool.length];
    return { kind: 'forward', step, rows: B, activations: p.activations, labels: p.labels };
  };
  const targetOf = (step: number): BackwardMessage => ({
    kind: 'backward',
    step,
    gradient: pool[step % pool.length].target,
    synthetic: spec.mode !== 'backprop',
  });

  let step = 0;
  const time = { forward: 0, target: 0 };
  const oneStep = (timed: boolean) => {
    const t0 = performance.now();
    stage.forward(forwardOf(step));
    const t1 = performance.now();
    if (takesTargets) stage.backward(targetOf(step));
    const t2 = performance.now();
    if (timed) {
      time.forward += t1 - t0;
      time.target += t2 - t1;
    }
    step += 1;
  };

  try {
    for (let i = 0; i < flags.warmup; i++) oneStep(false);
    const before = { ...stage.counters };
    let session: Session | null = null;
    if (flags.cpuprofile) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const start = performance.now();
    for (let i = 0; i < flags.steps; i++) oneStep(true);
    const wallMs = performance.now() - start;
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(flags.cpuprofile!, JSON.stringify(profile));
      session.disconnect();
    }
    const updates = stage.counters.updates - before.updates;
    const synthUpdates = stage.counters.synthesizerUpdates - before.synthesizerUpdates;
    const f = stageFlops(stage, B);
    const flops = phaseFlops(
      f,
      { steps: flags.steps, updates, synthesizerUpdates: synthUpdates },
      { lockedBackprop: spec.mode === 'backprop' && takesTargets, hasSynthesizer: stage.synthesizer !== null },
    );
    report({ flags, config: { preset: config.preset ?? flags.preset, mode: config.mode }, stage, f, B, backend: backend.name, ceiling, wallMs, time, flops, updates, synthUpdates, takesTargets, sent });
  } finally {
    stage.dispose();
  }
}

function report(r: {
  flags: Flags;
  config: { preset: string; mode: string };
  stage: Stage;
  f: StageFlops;
  B: number;
  backend: string;
  ceiling: Awaited<ReturnType<typeof measureMatMulCeiling>>;
  wallMs: number;
  time: { forward: number; target: number };
  flops: { forward: number; target: number; total: number };
  updates: number;
  synthUpdates: number;
  takesTargets: boolean;
  sent: { forward: number; backward: number; reports: number };
}): void {
  const { flags, stage, f, B, time } = r;
  const steps = flags.steps;
  const synth = stage.synthesizer ? `; synthesizer ${describe(stage.synthesizer.net.layers)}` : '';
  const perStep = r.flops.total / steps;
  const workMs = time.forward + time.target;
  const gflops = r.flops.total / (workMs / 1000) / 1e9;
  const hasSynth = stage.synthesizer !== null;
  const gf = (flops: number, ms: number) => (ms > 0 ? (flops / (ms / 1000) / 1e9).toFixed(2) : '-');
  const targetLabel = r.config.mode === 'backprop' ? 'target (true gradient: backward + update)' : 'target (step 5: train M)';
  const lines = [
    `profile-stage: stage ${stage.spec.index} of ${stage.spec.count} of ${r.config.preset} (${r.config.mode}), batch ${B}, backend ${r.backend}`,
    `  layers: ${describe(stage.net.layers)}${synth}`,
    `  ${steps} steps after ${flags.warmup} warm-up steps: ${(workMs / 1000).toFixed(2)} s, ${(steps / (r.wallMs / 1000)).toFixed(1)} steps/s, ${((steps * B) / (r.wallMs / 1000)).toFixed(0)} samples/s` +
      (flags.cpuprofile ? ' (under the CPU profiler)' : ''),
    `  forward (steps 1-4): ${(time.forward / steps).toFixed(3)} ms per step` +
      (r.takesTargets ? `   ${targetLabel}: ${(time.target / steps).toFixed(3)} ms per step` : '   (last stage: no targets)'),
    `  updates ${r.updates}, synthesizer updates ${r.synthUpdates}; sent ${r.sent.forward} forward, ${r.sent.backward} backward`,
    '',
    `  FLOPs per step (2·B·n·m per matMul of a dense n->m layer, B = ${B}): forward x·W ${mega(f.forward)} + dW = xᵀ·dy ${mega(f.weightGradient)} + dx = dy·Wᵀ ${mega(f.inputGradient)}` +
      (hasSynth ? ` + synthesizer predict ${mega(f.synthesizerPredict)} + train (forward + dW${f.synthesizerTrain > 2 * f.synthesizerPredict ? ' + dx' : ''}) ${mega(f.synthesizerTrain)}` : '') +
      ` = ${mega(perStep)} FLOP`,
    `    (total = steps·(x·W) + updates·(dW + dx${hasSynth ? ' + predict' : ''})${hasSynth ? ' + synthesizer updates·train' : ''}, from the stage's counters; elementwise work not counted)`,
    ...(f.uncounted.length ? [`    not counted (no dense matMul formula): ${f.uncounted.join(', ')}`] : []),
    `  achieved: ${gflops.toFixed(2)} GFLOP/s` +
      ` (forward ${gf(r.flops.forward, time.forward)}` +
      (r.takesTargets && r.flops.target > 0 ? `, target ${gf(r.flops.target, time.target)}` : '') +
      ')',
    `  matMul ceiling, this thread: ${describeCeiling(r.ceiling)}`,
    `  achieved / ceiling: ${((gflops / r.ceiling.gflops) * 100).toFixed(0)}%`,
  ];
  if (flags.cpuprofile) lines.push(`  CPU profile: ${flags.cpuprofile} (open in Chrome DevTools > Performance, or speedscope)`);
  process.stdout.write(lines.join('\n') + '\n');
}

const program = new Command('profile-stage')
  .description('run one stage alone in this thread on synthetic inputs: steps/s, time per DNI step, FLOPs, GFLOP/s against the matMul ceiling')
  .requiredOption('--stage <index>', 'stage index (0 = the input stage)', int(0))
  .addOption(new Option('--preset <name>', 'preset').choices(presetNames).default(defaultPreset))
  .option('--steps <n>', 'timed steps', int(1), 200)
  .option('--warmup <n>', 'untimed steps first', int(0), 10)
  .addOption(new Option('--backend <name>', 'tfjs backend in this thread').choices(['auto', 'tensorflow', 'wasm', 'cpu']).default('wasm'))
  .option('--batch-size <n>', "examples per batch (default: the preset's)", int(1))
  .option('--cpuprofile <file>', 'write a V8 CPU profile of the timed steps (.cpuprofile)')
  .action(profile);

program.parseAsync(process.argv).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`profile-stage: ${error instanceof ConfigError ? error.message : ((error as Error)?.stack ?? String(error))}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
