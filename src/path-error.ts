/** A file or folder the user pointed at is unusable: the message names the path, then the problem. */
export class PathError extends Error {
  constructor(
    readonly path: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${problem}`, options);
    this.name = new.target.name;
  }
}
