import { Command } from 'commander';
import { writeReport } from '../lab/report/index.js';

export function reportCommand(): Command {
  return new Command('report')
    .description('write a self-contained report.html with the charts of one or more runs, overlaid')
    .argument('<runDirs...>', 'run directories (each with config.json and metrics.jsonl)')
    .option('--out <file>', 'the HTML file to write (default <first run dir>/report.html); an existing other file is refused')
    .option('--force', 'overwrite an existing --out file')
    .action((runDirs: string[], flags: { out?: string; force?: boolean }) => {
      const path = writeReport(runDirs, flags.out, { force: flags.force });
      process.stdout.write(`${path}\n`);
    });
}
