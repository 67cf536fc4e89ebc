/**
 * The stage worker: one long-running piscina task per stage, wired to its neighbours with
 * MessagePorts. The stage's loop itself is in src/loop/serve-stage.ts, shared with stage
 * processes that talk over other transports.
 */
import { NonFiniteError } from '../../stage/stage.js';
import type { ControlMessage, ReportMessage, StageStats } from '../../stage/protocol.js';
import { PortChannel } from './port-channel.js';
import { PortLinks, type StageTask } from './port-links.js';
import { serveStage } from '../../loop/serve-stage.js';
import { withCpuProfile } from '../../runtime/cpu-profile.js';

export default async function runStage({ spec, ports }: StageTask): Promise<StageStats> {
  const control = new PortChannel<ReportMessage | ControlMessage>(ports.control);
  const report = (message: ReportMessage) => control.send(message);
  const links = new PortLinks(ports);
  try {
    return await withCpuProfile(`stage-${spec.index}`, () => serveStage(spec, links, control));
  } catch (error) {
    const err = error as Error;
    if (err instanceof NonFiniteError) report({ kind: 'fatal', stage: spec.index, message: err.message });
    const wrapped = new Error(`stage ${spec.index}: ${err.message}`);
    wrapped.stack = `stage ${spec.index}: ${err.stack ?? err.message}`;
    throw wrapped;
  } finally {
    links.close();
    control.close();
  }
}
