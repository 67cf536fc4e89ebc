import { Command } from 'commander';
import { writeReport } from '../lab/report/index.js';

export function reportCommand(): Command {
  return new Command('report')
    .description('write a self-contained report.html with the charts of one or more runs, overlaid')
    .argument('<runDirs...>', 'run directories (each with config.json and metrics.jsonl)')
    .option('--out <file>', 'the HTML file to write (default <first run dir>/report.html)')
    .action((runDirs: string[], flags: { out?: string }) => {
      const path = writeReport(runDirs, flags.out);
      process.stdout.write(`${path}\n`);
    });
}
