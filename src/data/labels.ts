/**
 * Two-class tasks made from a ten-class data set, for methods defined on one output (kickback):
 * `low-high` asks whether the class is 5-9 (digits 0-4 against 5-9), `odd-even` whether it is odd.
 * `classes` keeps the data set's own labels.
 */
import type { Dataset } from './dataset.js';
import type { Split } from './mnist.js';

export const labellings = ['classes', 'low-high', 'odd-even'] as const;
export type Labelling = (typeof labellings)[number];

/** The two-class label of class `c`. */
function twoClass(labelling: Exclude<Labelling, 'classes'>, c: number): number {
  return labelling === 'low-high' ? (c >= 5 ? 1 : 0) : c % 2;
}

function relabelSplit(split: Split, labelling: Exclude<Labelling, 'classes'>): Split {
  return { ...split, labels: split.labels.map((c) => twoClass(labelling, c)) };
}

/** The data set with its labels as `labelling` asks (the images are shared, not copied). */
export function relabel(data: Dataset, labelling: Labelling): Dataset {
  if (labelling === 'classes') return data;
  return { train: relabelSplit(data.train, labelling), validation: relabelSplit(data.validation, labelling), test: relabelSplit(data.test, labelling) };
}
