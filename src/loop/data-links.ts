import type { Channel } from './channel.js';
import type { Inbox } from './inbox.js';
import type { BackwardMessage, ForwardMessage, LinkEnds } from '../stage/protocol.js';

/** A stage's data links: where it sends activations and targets, and where it hears them from. */
export interface DataLinks {
  forwardOut?: Channel<ForwardMessage>;
  backwardOut?: Channel<BackwardMessage>;
  /** DFA's last stage: its output error, to every stage below (each gets its own copy). */
  errorOut?: Channel<BackwardMessage>;
  /** Delivers incoming batches and targets into the stage's inbox. */
  listen(inbox: Inbox): void;
  /**
   * Where the transport can: moves every message already waiting into the inbox now, without an
   * event-loop turn (which costs a stage several times more); returns how many.
   */
  drain?(inbox: Inbox): number;
  /** The gradient probe was lost with a failed stage: its true gradient is no longer expected (links that check what comes down). */
  forgetProbe?(): void;
  /** New link ends after a neighbour restarted (MessagePort links; others may ignore it). */
  rewire(ends: LinkEnds): void;
  close(): void;
}
