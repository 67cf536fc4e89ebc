/** What labels a run: its id, its config and (when finished) its summary's preset and mode; a feed-forward or a sequence run. */
export interface LabelledRun {
  id: string;
  config: { settings: Record<string, unknown>; preset: string | null; mode: string | null };
  summary: { preset: string | null; mode: string | null } | null;
}

/** Where a run is stored or reads its data from: never what tells runs apart in a legend. */
const placeOnly = new Set(['out', 'data']);

/** A config as `path = value` pairs (arrays as JSON), e.g. `train.batchSize` -> `128`, in config order. */
export function flattenConfig(value: unknown, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if (!prefix && placeOnly.has(key)) continue;
      for (const [path, text] of flattenConfig(inner, prefix ? `${prefix}.${key}` : key)) out.set(path, text);
    }
  } else if (prefix) {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

/** The config fields whose values are not the same in every run (absent counts as a value), in order of first appearance. */
export function differingFields(runs: LabelledRun[]): string[] {
  const flat = runs.map((run) => flattenConfig(run.config.settings));
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))];
  return runs.length < 2 ? [] : paths.filter((path) => new Set(flat.map((f) => f.get(path) ?? '-')).size > 1);
}

/** Fields named in a legend label at most; the config table shows them all. */
const LABEL_FIELDS = 4;

/**
 * Legend labels: one run is labelled by its id with its preset and mode; several runs by their id
 * and the config fields that differ between them (e.g. `run-b: optimizer.learningRate=0.01`).
 */
export function runLabels(runs: LabelledRun[]): string[] {
  const fields = differingFields(runs);
  return runs.map((run) => {
    if (fields.length === 0) {
      const tags = [run.summary?.preset ?? run.config.preset, run.summary?.mode ?? run.config.mode].filter((t): t is string => !!t);
      return tags.length ? `${run.id} (${tags.join(', ')})` : run.id;
    }
    const flat = flattenConfig(run.config.settings);
    const shown = fields.slice(0, LABEL_FIELDS).map((path) => `${path}=${flat.get(path) ?? '-'}`);
    const more = fields.length > LABEL_FIELDS ? `, +${fields.length - LABEL_FIELDS} more` : '';
    return `${run.id}: ${shown.join(', ')}${more}`;
  });
}
