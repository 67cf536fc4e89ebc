import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** An IDX file of unsigned bytes with the given dimensions and data. */
export function idx(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

/** A small MNIST-shaped folder: `train` and `test` images of 28x28 with labels 0-9. */
export function writeMiniMnist(dir: string, train = 300, test = 100): void {
  const images = (n: number) => new Uint8Array(n * 784).map((_, i) => (i * 37) % 256);
  const labels = (n: number) => new Uint8Array(n).map((_, i) => i % 10);
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx([train, 28, 28], images(train)));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([train], labels(train)));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx([test, 28, 28], images(test)));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx([test], labels(test)));
}
