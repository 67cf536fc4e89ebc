/**
 * Profiles ONE stage alone, in this thread, on synthetic inputs of the right shape: how fast its
 * DNI steps run, how many FLOPs they do, and how that compares with the backend's ceiling beside it (its own conv2d of the stage's largest conv layer, or a matMul).
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
import { runProgram } from '../src/cli/exit.js';
import { effectiveWindow } from '../src/train.js';
import { stageSpecs } from '../src/stage/stage-spec.js';
import type { Stage } from '../src/stage/stage.js';
import { StageDriver } from '../src/lab/bench/stage-driver.js';
import { selectBackend } from '../src/runtime/backend.js';
import { BatchNorm, Dense, type Layer } from '../src/model/index.js';
import { convTimer, matMulTimer, ceilingOf, describeCeiling, type MatMulCeiling } from '../src/lab/bench/matmul-ceiling.js';
import { median } from '../src/lab/bench/stats.js';
import { stageFlops, phaseFlops, type StageFlops } from '../src/lab/bench/flops.js';
import { synthesizerOf } from '../src/stage/gradient/index.js';

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
      l instanceof Dense ? `dense ${l.inputUnits}->${l.outputUnits}${l.activation === 'linear' ? '' : ` ${l.activation}`}` : l instanceof BatchNorm ? 'batchnorm' : l.name,
    )
    .join(', ');
}

async function profile(flags: Flags): Promise<void> {
  // the stage is driven in lockstep order (each batch's target right after it), so its spec says lockstep
  const config = resolveConfig({ preset: flags.preset, overrides: { backend: flags.backend, train: { batchSize: flags.batchSize, schedule: 'lockstep' } } });
  const specs = stageSpecs(config, effectiveWindow(config));
  if (flags.stage >= specs.length) {
    throw new ConfigError('--stage', [`${flags.preset} has ${specs.length} stages (0..${specs.length - 1}), not stage ${flags.stage}`]);
  }
  const spec = specs[flags.stage];
  const backend = await selectBackend(config.backend);
  const driver = new StageDriver(spec, config.train.batchSize, config.train.seed);
  const { stage, sent, takesTargets } = driver;
  const B = config.train.batchSize;
  // the ceiling beside the stage: the backend's own conv2d of its largest conv layer (its own or
  // its synthesizer's) when it has one, else a plain matMul
  const conv = stageFlops(stage, B).largestConv;
  const timer = conv ? await convTimer(conv, B) : await matMulTimer();

  const time = { forward: 0, target: 0 };
  // per step: its time, and the time of one ceiling matMul right after it (interleaved, so both
  // see the same load on a shared machine; their medians are compared)
  const stepMs: number[] = [];
  const ceilingMs: number[] = [];
  let profiling = false;
  const oneStep = async (timed: boolean) => {
    const { forwardMs, targetMs } = await driver.step();
    if (timed) {
      time.forward += forwardMs;
      time.target += targetMs;
      stepMs.push(forwardMs + targetMs);
      if (!profiling) ceilingMs.push(await timer.once());
    }
  };

  try {
    for (let i = 0; i < flags.warmup; i++) await oneStep(false);
    const before = { ...stage.counters };
    for (let i = 0; i < 5; i++) await timer.once();
    let session: Session | null = null;
    profiling = !!flags.cpuprofile;
    if (flags.cpuprofile) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const start = performance.now();
    for (let i = 0; i < flags.steps; i++) await oneStep(true);
    const wallMs = performance.now() - start - (ceilingMs.length ? ceilingMs.reduce((a, b) => a + b) : 0);
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(flags.cpuprofile!, JSON.stringify(profile));
      session.disconnect();
    }
    const updates = stage.counters.updates - before.updates;
    const synthUpdates = stage.counters.synthesizerUpdates - before.synthesizerUpdates;
    const repredictions = (stage.counters.synthesizerRepredictions ?? 0) - (before.synthesizerRepredictions ?? 0);
    const f = stageFlops(stage, B);
    const flops = phaseFlops(
      f,
      { steps: flags.steps, updates, synthesizerUpdates: synthUpdates, synthesizerRepredictions: repredictions },
      { lockedBackprop: spec.mode === 'backprop' && takesTargets, hasSynthesizer: synthesizerOf(stage.source) !== null },
    );
    // under the profiler the ceiling is measured after the steps instead
    while (ceilingMs.length < 20) ceilingMs.push(await timer.once());
    const ceiling = await ceilingOf(timer, ceilingMs, 5);
    const medianStepMs = median(stepMs);
    report({ flags, config: { preset: config.preset ?? flags.preset, mode: config.mode }, stage, f, B, backend: backend.name, ceiling, wallMs, medianStepMs, time, flops, updates, synthUpdates, takesTargets, sent });
  } finally {
    timer.dispose();
    driver.dispose();
  }
}

function report(r: {
  flags: Flags;
  config: { preset: string; mode: string };
  stage: Stage;
  f: StageFlops;
  B: number;
  backend: string;
  ceiling: MatMulCeiling;
  wallMs: number;
  medianStepMs: number;
  time: { forward: number; target: number };
  flops: { forward: number; target: number; total: number };
  updates: number;
  synthUpdates: number;
  takesTargets: boolean;
  sent: { forward: number; backward: number; reports: number };
}): void {
  const { flags, stage, f, B, time } = r;
  const steps = flags.steps;
  const synthesizer = synthesizerOf(stage.source);
  const synth = synthesizer ? `; synthesizer ${describe(synthesizer.net.layers)}` : '';
  const perStep = r.flops.total / steps;
  const workMs = time.forward + time.target;
  const gflops = r.flops.total / (workMs / 1000) / 1e9;
  const medianGflops = perStep / (r.medianStepMs / 1000) / 1e9;
  const hasSynth = synthesizerOf(stage.source) !== null;
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
    `  FLOPs per step (2·B·n·m per matMul of a dense n->m layer, n·m = Ho·Wo·F·k²·C for a conv layer, B = ${B}): forward x·W ${mega(f.forward)} + dW = xᵀ·dy ${mega(f.weightGradient)} + dx = dy·Wᵀ ${mega(f.inputGradient)}` +
      (hasSynth ? ` + synthesizer predict ${mega(f.synthesizerPredict)} + train (${f.synthesizerTrain > f.synthesizerPredict ? 'forward + ' : ''}dW${f.synthesizerTrain > 2 * f.synthesizerPredict ? ' + dx' : ''}) ${mega(f.synthesizerTrain)}` : '') +
      (f.synthesizerRepredict > 0 ? ` (+ predict again ${mega(f.synthesizerRepredict)} where M had moved on)` : '') +
      ` = ${mega(perStep)} FLOP`,
    `    (total = steps·(x·W) + updates·(dW + dx${hasSynth ? ' + predict' : ''})${hasSynth ? ' + synthesizer updates·train' : ''}${f.synthesizerRepredict > 0 ? ' + predictions again·predict' : ''}, from the stage's counters; elementwise work not counted)`,
    ...(f.uncounted.length ? [`    not counted (neither dense nor conv): ${f.uncounted.join(', ')}`] : []),
    `  achieved: ${gflops.toFixed(2)} GFLOP/s` +
      ` (forward ${gf(r.flops.forward, time.forward)}` +
      (r.takesTargets && r.flops.target > 0 ? `, target ${gf(r.flops.target, time.target)}` : '') +
      ')',
    `  median step ${r.medianStepMs.toFixed(3)} ms: ${medianGflops.toFixed(2)} GFLOP/s`,
    `  ${f.largestConv ? 'conv' : 'matMul'} ceiling, this thread${flags.cpuprofile ? ' (measured after the steps)' : `, one ${f.largestConv ? 'conv2d' : 'matMul'} after each step`}: ${describeCeiling(r.ceiling, f.largestConv ? { shape: f.largestConv, batch: B } : undefined)}`,
    `  achieved / ceiling (medians): ${((medianGflops / r.ceiling.gflops) * 100).toFixed(0)}%`,
  ];
  if (flags.cpuprofile) lines.push(`  CPU profile: ${flags.cpuprofile} (open in Chrome DevTools > Performance, or speedscope)`);
  process.stdout.write(lines.join('\n') + '\n');
}

const program = new Command('profile-stage')
  .description('run one stage alone in this thread on synthetic inputs: steps/s, time per DNI step, FLOPs, GFLOP/s against the ceiling beside it (conv2d of its largest conv layer, or a matMul)')
  .requiredOption('--stage <index>', 'stage index (0 = the input stage)', int(0))
  .addOption(new Option('--preset <name>', 'preset').choices(presetNames).default(defaultPreset))
  .option('--steps <n>', 'timed steps', int(1), 200)
  .option('--warmup <n>', 'untimed steps first', int(0), 10)
  .addOption(new Option('--backend <name>', 'tfjs backend in this thread').choices(['auto', 'tensorflow', 'wasm', 'cpu']).default('wasm'))
  .option('--batch-size <n>', "examples per batch (default: the preset's)", int(1))
  .option('--cpuprofile <file>', 'write a V8 CPU profile of the timed steps (.cpuprofile)')
  .action(profile);

runProgram(program);
