import type { Summary } from '../run/summary.js';
import type { EpochRecord } from '../train.js';

const fixed = (x: number | null, digits: number) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(digits));

export function epochLine(r: EpochRecord): string {
  return (
    `epoch ${r.epoch}  loss ${fixed(r.trainLoss, 4)}  train acc ${fixed(r.trainAccuracy, 4)}  val acc ${fixed(r.valAccuracy, 4)}  ` +
    `test acc ${fixed(r.testAccuracy, 4)}  ${Math.round(r.samplesPerSecond)} samples/s`
  );
}

/** The human-readable end-of-run report. */
export function summaryText(s: Summary): string {
  const lines = [
    `synthgrad ${s.preset ?? s.mode}: ${s.mode}, ${s.schedule} (window ${s.window}), ${s.stages} stages on ${s.backend}`,
    `  validation accuracy ${fixed(s.valAccuracy, 4)}   test accuracy ${fixed(s.testAccuracy, 4)}   test loss ${fixed(s.testLoss, 4)}`,
    `  ${s.epochs} epochs, ${s.steps} steps of ${s.batchSize}, wall ${s.wallSeconds.toFixed(1)} s, training ${Math.round(s.trainSamplesPerSecond)} samples/s`,
    '',
  ];
  // complete unlock: the loss of each stage's input model I[s]
  const unlocked = s.perStage.some((p) => p.inputModelLoss !== undefined);
  lines.push(`  stage  busy s   wait s   send s  updates  synth loss  synth cos${unlocked ? '  input loss' : ''}  layers`);
  for (const p of s.perStage) {
    const inputLoss = unlocked ? (p.inputModelLoss == null ? '-' : p.inputModelLoss.toPrecision(3)).padStart(12) : '';
    lines.push(
      `  ${String(p.stage).padEnd(5)} ${p.busySeconds.toFixed(1).padStart(7)} ${p.waitSeconds.toFixed(1).padStart(8)} ` +
        `${p.sendSeconds.toFixed(2).padStart(8)} ${String(p.updates).padStart(8)} ${(p.synthesizerLoss === null ? '-' : p.synthesizerLoss.toPrecision(3)).padStart(11)} ` +
        `${fixed(p.synthesizerCosine, 3).padStart(10)}${inputLoss}  ${p.layers.join('; ')}`,
    );
  }
  lines.push('', `  run directory: ${s.outDir}`);
  return lines.join('\n');
}
