import type { MessagePort } from 'node:worker_threads';
import { PortChannel } from './port-channel.js';
import type { DataLinks } from '../../loop/data-links.js';
import type { Channel } from '../../loop/channel.js';
import type { Inbox } from '../../loop/inbox.js';
import type { BackwardMessage, ForwardMessage, InputMessage, LinkEnds } from '../../stage/protocol.js';
import type { StageSpec } from '../../stage/stage-spec.js';

/** A stage's link ends between threads; a `rewire` message carries some of them. */
export interface PortEnds {
  forwardIn?: MessagePort;
  forwardOut?: MessagePort;
  backwardIn?: MessagePort;
  backwardOut?: MessagePort;
  /** Complete unlock: x_t from the orchestrator. */
  inputIn?: MessagePort;
  /** DFA: the last stage's output error, into a stage below it. */
  errorIn?: MessagePort;
  /** DFA's last stage: a port into each stage below it, by stage index (a rewire carries the replaced ones only). */
  errorOut?: (MessagePort | undefined)[];
}

/** The ports among link ends, for a transfer list. */
export function portsOf(ends: PortEnds): MessagePort[] {
  return Object.values(ends).flat().filter(Boolean) as MessagePort[];
}

/** DFA's error link out of the last stage: the same message to every stage below (each gets a copy). */
class ErrorFanOut implements Channel<BackwardMessage> {
  readonly ports: (PortChannel<BackwardMessage> | undefined)[] = [];

  send(message: BackwardMessage): void {
    for (const port of this.ports) port?.send(message);
  }

  onMessage(): void {}

  close(): void {
    for (const port of this.ports) port?.close();
  }
}

export interface StagePorts extends PortEnds {
  forwardIn: MessagePort;
  control: MessagePort;
}

/** What the stage worker (stage-worker.ts) is given: its part of the network and its ports. */
export interface StageTask {
  spec: StageSpec;
  ports: StagePorts;
}

/**
 * The stage's four data links (five with complete unlock: x_t from the orchestrator; with DFA, the
 * error from the last stage, or out of it to each stage below); replaced when a neighbour is restarted.
 */
export class PortLinks implements DataLinks {
  forwardOut?: PortChannel<ForwardMessage>;
  backwardOut?: PortChannel<BackwardMessage>;
  errorOut?: ErrorFanOut;
  private forwardIn: PortChannel<ForwardMessage>;
  private backwardIn?: PortChannel<BackwardMessage>;
  private inputIn?: PortChannel<InputMessage>;
  private errorIn?: PortChannel<BackwardMessage>;
  private inbox: Inbox | null = null;

  constructor({ forwardIn, control: _control, ...others }: StagePorts) {
    this.forwardIn = new PortChannel(forwardIn);
    this.rewire(others);
  }

  listen(inbox: Inbox): void {
    this.inbox = inbox;
    this.forwardIn.onMessage((m) => inbox.pushForward(m));
    this.backwardIn?.onMessage((m) => inbox.pushBackward(m));
    this.inputIn?.onMessage((m) => inbox.pushInput(m));
    this.errorIn?.onMessage((m) => inbox.pushBackward(m));
  }

  drain(inbox: Inbox): number {
    let n = 0;
    for (let m = this.forwardIn.receive(); m; m = this.forwardIn.receive(), n++) inbox.pushForward(m);
    for (let m = this.backwardIn?.receive(); m; m = this.backwardIn!.receive(), n++) inbox.pushBackward(m);
    for (let m = this.inputIn?.receive(); m; m = this.inputIn!.receive(), n++) inbox.pushInput(m);
    for (let m = this.errorIn?.receive(); m; m = this.errorIn!.receive(), n++) inbox.pushBackward(m);
    return n;
  }

  rewire(ends: LinkEnds): void {
    const ports = ends as PortEnds;
    if (ports.forwardIn) {
      this.forwardIn.close();
      this.forwardIn = new PortChannel(ports.forwardIn);
      if (this.inbox) this.forwardIn.onMessage((m) => this.inbox!.pushForward(m));
    }
    if (ports.backwardIn) {
      this.backwardIn?.close();
      this.backwardIn = new PortChannel(ports.backwardIn);
      if (this.inbox) this.backwardIn.onMessage((m) => this.inbox!.pushBackward(m));
    }
    if (ports.inputIn) {
      this.inputIn?.close();
      this.inputIn = new PortChannel(ports.inputIn);
      if (this.inbox) this.inputIn.onMessage((m) => this.inbox!.pushInput(m));
    }
    if (ports.errorIn) {
      this.errorIn?.close();
      this.errorIn = new PortChannel(ports.errorIn);
      if (this.inbox) this.errorIn.onMessage((m) => this.inbox!.pushBackward(m));
    }
    if (ports.errorOut) {
      this.errorOut ??= new ErrorFanOut();
      ports.errorOut.forEach((port, s) => {
        if (!port) return;
        this.errorOut!.ports[s]?.close();
        this.errorOut!.ports[s] = new PortChannel(port);
      });
    }
    if (ports.forwardOut) {
      this.forwardOut?.close();
      this.forwardOut = new PortChannel(ports.forwardOut);
    }
    if (ports.backwardOut) {
      this.backwardOut?.close();
      this.backwardOut = new PortChannel(ports.backwardOut);
    }
  }

  close(): void {
    for (const c of [this.forwardIn, this.backwardIn, this.inputIn, this.errorIn, this.forwardOut, this.backwardOut, this.errorOut]) c?.close();
  }
}

