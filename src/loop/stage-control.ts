import { lowerThreadPriority } from '../runtime/thread-priority.js';
import { encodeStageState } from '../stage/stage-state.js';
import { writeFileAtomic } from '../atomic-write.js';
import type { Stage } from '../stage/stage.js';
import { writeCause } from '../write-error.js';
import type { Inbox } from './inbox.js';
import type { ScheduleState } from './schedule.js';
import type { StageMeters } from './stage-meters.js';
import type { ControlMessage, ReportMessage, StageStats } from '../stage/protocol.js';
import type { DataLinks } from './data-links.js';

/** What answering a control message touches. */
export interface ControlTarget {
  stage: Stage;
  inbox: Inbox;
  schedule: ScheduleState;
  meters: StageMeters;
  links: DataLinks;
  report(message: ReportMessage): void;
  stats(): Promise<StageStats>;
}

/**
 * The answers to the orchestrator's control messages, given between two steps of the stage:
 * statistics, weights, a checkpoint, re-wiring after a neighbour restarted, lost steps (and a lost
 * gradient probe), the thread's priority, and stop.
 */
export function controlHandler(target: ControlTarget): (message: ControlMessage) => Promise<void> {
  const { stage, inbox, schedule, meters, links, report } = target;
  const index = stage.spec.index;
  return async (m) => {
    switch (m.kind) {
      case 'stats':
        return report({ kind: 'stats', stats: await target.stats(), trace: meters.trace.take(), traceDropped: meters.trace.dropped });
      case 'weights':
        return report({ kind: 'weights', stage: index, values: await stage.net.getWeights() });
      case 'checkpoint': {
        const bytes = encodeStageState(await stage.exportState(m.step, meters.counters()));
        if (m.inline) return report({ kind: 'checkpointed', stage: index, step: m.step, file: m.file, bytes: bytes.length, state: bytes });
        try {
          writeFileAtomic(m.file, bytes);
        } catch (error) {
          // a full or read-only disk is the run's problem, not this stage's: reported, not thrown
          return report({ kind: 'checkpointed', stage: index, step: m.step, file: m.file, bytes: bytes.length, error: writeCause(error) });
        }
        return report({ kind: 'checkpointed', stage: index, step: m.step, file: m.file, bytes: bytes.length });
      }
      case 'rewire':
        links.rewire(m.ends);
        return report({ kind: 'rewired', stage: index });
      case 'abandon': {
        const steps = new Set(m.steps);
        inbox.discard(steps);
        schedule.abandon(steps);
        if (m.probe) {
          inbox.discardProbe();
          links.forgetProbe?.();
          stage.forgetProbe();
        }
        return stage.abandon(steps);
      }
      case 'priority': {
        const why = lowerThreadPriority(m.nice);
        if (why) return report({ kind: 'log', stage: index, level: 'warn', msg: `stage priority left unchanged: ${why}` });
        return;
      }
      case 'stop':
        return inbox.requestStop();
    }
  };
}
