/** A file or folder the user pointed at is unusable: the message names the path, then the problem. */
export class PathError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = new.target.name;
  }
}
