export { ReportError } from './errors.js';
export { readRun, type RunData, type TrainPoint, type EpochPoint, type ProbePoint, type StagePoint, type RunSummary, type RunConfig } from './read-run.js';
export { runFigures, runUtilisation, meanProbeCosines, type RunFigures, type RunUtilisation } from './figures.js';
export { runLabels, differingFields } from './differences.js';
export { reportHtml } from './html.js';
export { writeReport } from './write-report.js';
export { isSequenceRun, readSequenceRun, type SequenceRunData, type SequencePoint } from './read-sequence-run.js';
export { sequenceReportHtml } from './sequence-html.js';
