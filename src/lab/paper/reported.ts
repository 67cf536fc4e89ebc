/**
 * What the DNI paper reported for the MNIST FCN rows, only where it can be cited. The text of the
 * paper's first table (MNIST and CIFAR-10, FCN and CNN, backprop / DNI / cDNI) could not be
 * retrieved here, so no cell of it is quoted: the table says "not confirmed" and lists the figures
 * docs/paper.md ("What others reported") can cite instead.
 */
export const paperTable = 'Jaderberg et al. 2016, "Decoupled Neural Interfaces using Synthetic Gradients" (arXiv 1608.05343), Table 1';

/** The paper's test error (%) for a row and mode, when it can be cited; null: not confirmed. */
export function paperTestError(_layers: number, _mode: string): number | null {
  return null;
}

/** Figures that can be cited (docs/paper.md, "What others reported"), shown under the tables. */
export const citableFigures: readonly { source: string; setting: string; result: string }[] = [
  { source: 'DNI paper, as quoted by secondary sources', setting: '4-layer FCN MNIST, cDNI, every layer updated with probability 0.2', result: '"still trains to 2%" test error' },
  { source: 'DNI paper', setting: 'cDNI, update probability 0.05', result: 'trains, only slower' },
  { source: 'DNI paper appendix', setting: 'MNIST FCN protocol', result: 'Adam 3e-5 (÷10 at 300k, 400k iterations), batch 256, 500k iterations; DNI synthesizer 2x1024 hidden, cDNI linear' },
  { source: 'nitarshan notebook (TF1)', setting: '784-256x3-10, BN, linear cDNI, p = 0.2, batch 250', result: 'test accuracy 96.95% (backprop 97.64%)' },
  { source: 'kbullaughey (Torch)', setting: '3-layer FCN, cDNI linear, lr 1e-3', result: '2.0% error by about 19k iterations' },
];
