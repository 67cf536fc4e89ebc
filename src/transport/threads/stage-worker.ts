/**
 * The stage worker: one long-running piscina task per stage, wired to its neighbours with
 * MessagePorts. The stage's loop itself is in src/loop/serve-stage.ts, shared with stage
 * processes that talk over other transports.
 */
import type { ControlMessage, ReportMessage, StageFailure, StageStats } from '../../stage/protocol.js';
import { failureOf } from '../../loop/stage-failure.js';
import { PortChannel } from './port-channel.js';
import { PortLinks, type StageTask } from './port-links.js';
import { serveStage } from '../../loop/serve-stage.js';
import { withCpuProfile } from '../../runtime/cpu-profile.js';

/** How a stage task ends: its statistics, or its failure as plain data (an Error loses its kind crossing threads). */
export type StageTaskResult = { stats: StageStats } | { failure: StageFailure };

export default async function runStage({ spec, ports }: StageTask): Promise<StageTaskResult> {
  const control = new PortChannel<ReportMessage | ControlMessage>(ports.control);
  const links = new PortLinks(ports);
  try {
    return { stats: await withCpuProfile(`stage-${spec.index}`, () => serveStage(spec, links, control)) };
  } catch (error) {
    return { failure: failureOf(error) };
  } finally {
    links.close();
    control.close();
  }
}
