/**
 * How the PyTorch reference runs: torch's threads, OpenBLAS's threads and how OpenMP's threads
 * wait for work. Which is fastest depends on the model and on the machine (on one 2-core host the
 * MLP ran 2x faster with 2 BLAS threads than with 1; on another, with thread wake-ups that cost
 * more, it ran faster on one thread), so the bench tries each before its runs and keeps the fastest.
 */
export interface ReferenceSetting {
  /** torch.set_num_threads */
  threads: number;
  /** OPENBLAS_NUM_THREADS */
  blasThreads: number;
  /** OMP_WAIT_POLICY; 'default': unset, libgomp's own (spin a while, then sleep). */
  ompWait: 'PASSIVE' | 'ACTIVE' | 'default';
}

/** The settings tried on `threads` threads: BLAS on all of them or on one, passive or default waits, and one thread alone. */
export function referenceSettings(threads: number): ReferenceSetting[] {
  const all: ReferenceSetting[] = [
    { threads, blasThreads: threads, ompWait: 'PASSIVE' },
    { threads, blasThreads: 1, ompWait: 'PASSIVE' },
    { threads, blasThreads: 1, ompWait: 'default' },
    { threads, blasThreads: threads, ompWait: 'default' },
    { threads: 1, blasThreads: 1, ompWait: 'PASSIVE' },
  ];
  return all.filter((s, i) => all.findIndex((t) => settingName(t) === settingName(s)) === i);
}

export function settingName(s: ReferenceSetting): string {
  const waits = s.ompWait === 'default' ? "libgomp's default waits" : `${s.ompWait.toLowerCase()} waits`;
  return `${s.threads} thread${s.threads === 1 ? '' : 's'}, ${s.blasThreads} BLAS thread${s.blasThreads === 1 ? '' : 's'}, ${waits}`;
}

/** One setting's trial: its samples/s. */
export interface SettingTrial {
  setting: ReferenceSetting;
  samplesPerSecond: number;
}

/** The reference of one mode, tried in every setting before the bench's runs. */
export interface ReferenceTuning {
  mode: string;
  trials: SettingTrial[];
  /** The fastest trial's setting, used for every run of this mode's reference. */
  chosen: ReferenceSetting;
}

/** Runs `measure` once per setting, in order, and keeps the fastest. */
export async function tuneReference(mode: string, settings: readonly ReferenceSetting[], measure: (s: ReferenceSetting) => Promise<number>): Promise<ReferenceTuning> {
  if (!settings.length) throw new Error('tuneReference: no settings to try');
  const trials: SettingTrial[] = [];
  for (const setting of settings) trials.push({ setting, samplesPerSecond: await measure(setting) });
  const best = trials.reduce((a, b) => (b.samplesPerSecond > a.samplesPerSecond ? b : a));
  return { mode, trials, chosen: best.setting };
}
