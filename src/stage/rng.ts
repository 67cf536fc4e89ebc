import seedrandom from 'seedrandom';

export type RandomStream = seedrandom.StatefulPRNG<seedrandom.State.Arc4>;
export type StreamState = seedrandom.State.Arc4;

/** One named random stream per purpose and owner: `stream(seed, 'init', 'layer', 3)`. */
export function stream(seed: string | number, ...name: (string | number)[]): RandomStream {
  return seedrandom(`${seed}/${name.join('/')}`, { state: true });
}

/** A stream continuing from a saved `state()`. */
export function restoreStream(state: StreamState): RandomStream {
  return seedrandom('', { state });
}
