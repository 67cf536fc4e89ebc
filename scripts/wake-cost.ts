/**
 * What a message costs its sender when it must wake the receiver: two threads pass a 128x256
 * Float32Array back and forth (moved), the receiver polling its port or blocked for a while
 * first; repetitions of every case interleaved, medians over them.
 *
 *   node dist/scripts/wake-cost.js [--rounds 1000] [--warmup 100] [--repetitions 3] [--floats 32768] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { runProgram } from '../src/cli/exit.js';
import { positiveInt, wholeNumber } from '../src/cli/flags.js';
import { median } from '../src/lab/bench/stats.js';
import { runWakeCase, WAKE_CASES, type WakeRun } from '../src/lab/bench/wake-cost.js';
import { machineInfo } from '../src/lab/bench/machine.js';

interface Flags {
  rounds: number;
  warmup: number;
  repetitions: number;
  floats: number;
  json?: string;
}

async function wakeCost(flags: Flags): Promise<void> {
  const runs: WakeRun[] = [];
  for (let r = 1; r <= flags.repetitions; r++) {
    process.stderr.write(`wake-cost: repetition ${r}/${flags.repetitions}\n`);
    for (const c of WAKE_CASES) runs.push(await runWakeCase(c, flags));
  }
  const cases = WAKE_CASES.map((c) => {
    const mine = runs.filter((r) => r.case === c.name);
    return { ...c, medianUs: median(mine.map((r) => r.medianUs)), p90Us: median(mine.map((r) => r.p90Us)), perRepetitionUs: mine.map((r) => r.medianUs) };
  });
  const lines = [
    `wake-cost: postMessage of a ${flags.floats}-float buffer (moved) between two threads, ${flags.rounds} each way, ${flags.repetitions} repetitions`,
    '  case                        median µs   p90 µs   per repetition (median µs)',
    ...cases.map((c) => `  ${c.name.padEnd(26)} ${c.medianUs.toFixed(1).padStart(10)} ${c.p90Us.toFixed(1).padStart(8)}   ${c.perRepetitionUs.map((x) => x.toFixed(1)).join(', ')}`),
    '  (median and p90 of every send of both threads after the warm-up; over the repetitions, the median of each)',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (flags.json) {
    const json = { format: 'synthgrad-wake-cost/1', createdAt: new Date().toISOString(), machine: machineInfo(), settings: { ...flags, json: undefined }, cases, runs };
    writeFileSync(flags.json, JSON.stringify(json, null, 2) + '\n');
  }
}

const program = new Command('wake-cost')
  .description('time postMessage between two threads, the receiver polling or blocked for a while: what waking a thread costs the sender')
  .option('--rounds <n>', 'messages each way per case', positiveInt, 1000)
  .option('--warmup <n>', "each thread's first sends, left out", wholeNumber, 100)
  .option('--repetitions <n>', 'runs of every case, interleaved', positiveInt, 3)
  .option('--floats <n>', 'Float32Array length (128x256, an activation batch)', positiveInt, 128 * 256)
  .option('--json <file>', 'also write the figures as JSON')
  .action(wakeCost);

runProgram(program);
