import { PathError } from '../../path-error.js';

/** A run directory or report output the user pointed at is unusable; the message names the path and what was expected. */
export class ReportError extends PathError {}
