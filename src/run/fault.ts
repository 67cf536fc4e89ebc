import type { Fault } from '../stage/stage-spec.js';
import { ConfigError } from '../config/errors.js';

const usage = 'expected stage=N,step=N[,kind=throw|exit|nan], e.g. SYNTHGRAD_FAULT=stage=2,step=150';

/**
 * SYNTHGRAD_FAULT, a testing aid: make one stage fail on purpose at one training step, by throwing
 * (kind=throw, the default), by its worker exiting (kind=exit) or by a NaN in its activations (kind=nan).
 */
export function parseFault(value: string | undefined): Fault | undefined {
  if (!value) return undefined;
  const fields = Object.fromEntries(value.split(',').map((part) => part.split('=').map((s) => s.trim())));
  const stage = Number(fields.stage);
  const step = Number(fields.step);
  const kind = fields.kind ?? 'throw';
  const known = Object.keys(fields).every((k) => ['stage', 'step', 'kind'].includes(k));
  if (!known || !Number.isInteger(stage) || stage < 0 || !Number.isInteger(step) || step < 0 || !['throw', 'exit', 'nan'].includes(kind)) {
    throw new ConfigError('SYNTHGRAD_FAULT', [`"${value}": ${usage}`]);
  }
  return { stage, step, kind: kind as Fault['kind'] };
}
