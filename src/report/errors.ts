/** A run directory or report output the user pointed at is unusable; the message names the path and what was expected. */
export class ReportError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'ReportError';
  }
}
