import seedrandom from 'seedrandom';

/** One named random stream per purpose and owner: `stream(seed, 'init', 'layer', 3)`. */
export function stream(seed: string | number, ...name: (string | number)[]): () => number {
  return seedrandom(`${seed}/${name.join('/')}`);
}
