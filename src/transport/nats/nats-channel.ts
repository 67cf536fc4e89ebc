/**
 * A Channel over one NATS subject, for stages in other processes or on other hosts.
 *
 * Messages are encoded with msgpackr (`codec.ts`); a message larger than the server's
 * `max_payload` (less room for headers) is published as consecutive chunks (`chunking.ts`) and put
 * back together by the subscriber. NATS keeps the order of messages from one connection to one
 * subscriber, and the chunks of a message are published back to back, so messages arrive whole
 * and in the order they were sent.
 *
 * Incoming messages are never trusted: anything that fails (unknown sender, too large, broken
 * chunking, not MessagePack, rejected by the validator) is dropped, counted in `rejected` and
 * reported through `onReject`; nothing is thrown into the caller and the channel keeps working.
 *
 * The sender header is an identity, not authentication: anyone allowed to publish on the subject
 * can claim any sender. Authentication and per-subject permissions belong to the NATS server
 * (token, user/password, TLS); `allowedSenders` only keeps out confused or stray publishers.
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Channel } from '../../loop/channel.js';
import { decodeMessage, encodeMessage, ValidationError, type Validator } from './codec.js';
import { formatChunkHeader, parseChunkHeader, Reassembler, splitPayload } from './chunking.js';

export type SubjectKind = 'forward' | 'backward' | 'error' | 'control' | 'stats';
const SUBJECT_KINDS: readonly SubjectKind[] = ['forward', 'backward', 'error', 'control', 'stats'];

/** Run ids and sender identities: letters, digits, `-` and `_` (sender ids may also use `.`). */
const RUN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SENDER_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The subject of one link: `synthgrad.<run>.<stage>.<kind>`. */
export function subject(run: string, stage: number, kind: SubjectKind): string {
  if (!RUN_PATTERN.test(run)) throw new RangeError(`run id must be 1-64 letters, digits, - or _, got ${JSON.stringify(run)}`);
  if (!Number.isSafeInteger(stage) || stage < 0) throw new RangeError(`stage must be a non-negative integer, got ${stage}`);
  if (!SUBJECT_KINDS.includes(kind)) throw new RangeError(`unknown subject kind ${JSON.stringify(kind)}`);
  return `synthgrad.${run}.${stage}.${kind}`;
}

export const SENDER_HEADER = 'Synthgrad-Sender';
export const CHUNK_HEADER = 'Synthgrad-Chunk';
/**
 * Bytes of `max_payload` left for headers (NATS counts headers in it). Ours take at most ~250
 * bytes: "NATS/1.0\r\n", a sender of <= 64 characters and a chunk header of <= 64 + 4 * 16.
 */
export const HEADER_RESERVE = 512;

export type RejectReason =
  /** Not one well-formed MessagePack value. */
  | 'decode'
  /** The validator threw. */
  | 'invalid'
  /** No sender header, or one not in `allowedSenders`. */
  | 'sender'
  /** Larger than `maxMessageBytes`. */
  | 'oversized'
  /** Malformed chunk header, chunks that contradict each other, duplicates. */
  | 'chunk'
  /** A chunked message not complete within `maxChunkAgeMs`. */
  | 'expired'
  /** A partial chunked message dropped to stay under `maxBytesInFlight`. */
  | 'overflow'
  /** The server ended the subscription (e.g. a permissions violation). */
  | 'subscription';

export interface NatsChannelOptions<T> {
  connection: NatsConnection;
  subject: string;
  /** Checks each decoded message; throwing rejects it. */
  validate?: Validator<T>;
  /** Largest encoded message accepted (default 64 MiB); larger ones are rejected before decoding. */
  maxMessageBytes?: number;
  /** This side's identity, sent in a header with every message. */
  sender?: string;
  /** When given, incoming messages must carry one of these senders. */
  allowedSenders?: Iterable<string>;
  /** Told about every rejected message (after it is counted). Must not throw; if it does, the error is ignored. */
  onReject?: (reason: RejectReason, detail: string) => void;
  /**
   * Told when a message handler throws. Default: the error is rethrown from a fresh task, so it
   * surfaces as an uncaught exception as it would with a MessagePort (it must not escape into the
   * NATS client, whose read loop calls the handler).
   */
  onHandlerError?: (error: unknown) => void;
  /** A partial chunked message older than this is dropped (default 30 s). */
  maxChunkAgeMs?: number;
  /** Most bytes held by partial chunked messages (default 2 * maxMessageBytes). */
  maxBytesInFlight?: number;
  /** Chunk size to use instead of the one derived from the server's max_payload (tests). */
  chunkBytes?: number;
}

function emptyCounts(): Record<RejectReason, number> {
  return { decode: 0, invalid: 0, sender: 0, oversized: 0, chunk: 0, expired: 0, overflow: 0, subscription: 0 };
}

export class NatsChannel<T> implements Channel<T> {
  readonly subject: string;
  /** Rejected incoming messages, by reason. */
  readonly rejected: Record<RejectReason, number> = emptyCounts();
  /** Messages sent, messages sent in more than one chunk, chunks sent for those. */
  readonly sent = { messages: 0, chunked: 0, chunks: 0 };
  /** Messages delivered to the handlers. */
  received = 0;

  private readonly connection: NatsConnection;
  private readonly validate?: Validator<T>;
  private readonly maxMessageBytes: number;
  private readonly sender?: string;
  private readonly allowedSenders?: ReadonlySet<string>;
  private readonly onReject?: (reason: RejectReason, detail: string) => void;
  private readonly onHandlerError?: (error: unknown) => void;
  private readonly chunkBytes?: number;
  private readonly reassembler: Reassembler;
  private readonly senderHeaders?: MsgHdrs;
  private readonly handlers: ((message: T) => void)[] = [];
  private subscription?: Subscription;
  /** The server's max_payload when last connected (while reconnecting, the client has no server info). */
  private knownMaxPayload?: number;
  private sweepTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(options: NatsChannelOptions<T>) {
    this.connection = options.connection;
    this.subject = options.subject;
    this.validate = options.validate;
    this.maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    if (!(this.maxMessageBytes > 0)) throw new RangeError(`maxMessageBytes must be positive, got ${this.maxMessageBytes}`);
    if (options.sender !== undefined && !SENDER_PATTERN.test(options.sender)) {
      throw new RangeError(`sender must be 1-64 letters, digits, ., - or _, got ${JSON.stringify(options.sender)}`);
    }
    this.sender = options.sender;
    this.allowedSenders = options.allowedSenders === undefined ? undefined : new Set(options.allowedSenders);
    this.onReject = options.onReject;
    this.onHandlerError = options.onHandlerError;
    if (options.chunkBytes !== undefined && !(Number.isSafeInteger(options.chunkBytes) && options.chunkBytes > 0)) {
      throw new RangeError(`chunkBytes must be a positive integer, got ${options.chunkBytes}`);
    }
    this.chunkBytes = options.chunkBytes;
    this.reassembler = new Reassembler({
      maxMessageBytes: this.maxMessageBytes,
      maxBytesInFlight: options.maxBytesInFlight ?? 2 * this.maxMessageBytes,
      maxAgeMs: options.maxChunkAgeMs ?? 30_000,
      onDrop: (reason, detail) => this.reject(reason, `${this.subject}: ${detail}`),
    });
    if (this.sender !== undefined) {
      this.senderHeaders = natsHeaders();
      this.senderHeaders.set(SENDER_HEADER, this.sender);
    }
  }

  /**
   * Publishes a message (the `transfer` list does not apply across processes and is ignored).
   * Returns once the data is queued in the client; `flush()` waits until the server has it.
   * After `close()` it does nothing, like a closed MessagePort.
   */
  send(message: T, _transfer?: ArrayBuffer[]): void {
    if (this.closed) return;
    const payload = encodeMessage(message);
    const chunkBytes = this.currentChunkBytes();
    this.sent.messages += 1;
    if (payload.byteLength <= chunkBytes) {
      this.connection.publish(this.subject, payload, this.senderHeaders === undefined ? undefined : { headers: this.senderHeaders });
      return;
    }
    const chunks = splitPayload(payload, chunkBytes);
    this.sent.chunked += 1;
    this.sent.chunks += chunks.length;
    for (const chunk of chunks) {
      const h = natsHeaders();
      if (this.sender !== undefined) h.set(SENDER_HEADER, this.sender);
      h.set(CHUNK_HEADER, formatChunkHeader(chunk));
      this.connection.publish(this.subject, chunk.data, { headers: h });
    }
  }

  /**
   * Delivers every accepted message to `handler` (handlers run in the order they were added).
   * The first call subscribes; the server knows about the subscription once `flush()` resolves.
   */
  onMessage(handler: (message: T) => void): void {
    if (this.closed) return;
    this.handlers.push(handler);
    if (this.subscription !== undefined) return;
    this.subscription = this.connection.subscribe(this.subject, {
      callback: (error, msg) => {
        if (error !== null) this.reject('subscription', `${this.subject}: ${error.message}`);
        else this.receive(msg);
      },
    });
    const period = Math.max(250, Math.min(5_000, this.reassembler.maxAgeMs / 4));
    this.sweepTimer = setInterval(() => this.reassembler.sweep(), period);
    this.sweepTimer.unref();
  }

  /** Resolves when the server has processed everything sent (and subscribed) so far on the connection. */
  flush(): Promise<void> {
    return this.connection.flush();
  }

  /** Unsubscribes and forgets partial messages; the connection stays open (it belongs to the caller). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    if (this.subscription !== undefined && !this.connection.isClosed()) {
      try {
        this.subscription.unsubscribe();
      } catch {
        // the connection closed meanwhile: nothing to unsubscribe from
      }
    }
    this.handlers.length = 0;
    this.reassembler.clear();
  }

  /** Bytes held by partial chunked messages now. */
  get bytesInFlight(): number {
    return this.reassembler.bytesInFlight;
  }

  private currentChunkBytes(): number {
    if (this.chunkBytes !== undefined) return this.chunkBytes;
    // while reconnecting, messages are buffered by the client and sent to the server that comes back
    const maxPayload = this.connection.info?.max_payload ?? this.knownMaxPayload;
    if (maxPayload === undefined) throw new Error('NATS connection has no server info (not connected)');
    this.knownMaxPayload = maxPayload;
    if (maxPayload < 2 * HEADER_RESERVE) throw new Error(`server max_payload ${maxPayload} is too small (need at least ${2 * HEADER_RESERVE})`);
    return maxPayload - HEADER_RESERVE;
  }

  private receive(msg: Msg): void {
    if (this.closed) return;
    const sender = msg.headers?.get(SENDER_HEADER) ?? '';
    if (this.allowedSenders !== undefined && !this.allowedSenders.has(sender)) {
      this.reject('sender', `${this.subject}: sender ${sender === '' ? '(none)' : JSON.stringify(sender.slice(0, 80))} not allowed`);
      return;
    }

    let payload: Uint8Array = msg.data;
    const chunkText = msg.headers?.get(CHUNK_HEADER) ?? '';
    if (chunkText !== '') {
      const header = parseChunkHeader(chunkText);
      if (header === null) {
        this.reject('chunk', `${this.subject}: malformed chunk header ${JSON.stringify(chunkText.slice(0, 120))}`);
        return;
      }
      const result = this.reassembler.accept(sender, header, msg.data);
      if (result.status !== 'complete') return; // partial, or dropped (already reported), or ignored
      payload = result.payload;
    } else if (payload.byteLength > this.maxMessageBytes) {
      this.reject('oversized', `${this.subject}: ${payload.byteLength} bytes > limit ${this.maxMessageBytes}`);
      return;
    }

    let message: T;
    try {
      message = decodeMessage<T>(payload, this.validate);
    } catch (error) {
      const reason: RejectReason = error instanceof ValidationError ? 'invalid' : 'decode';
      this.reject(reason, `${this.subject}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }

    this.received += 1;
    for (const handler of this.handlers) {
      try {
        handler(message);
      } catch (error) {
        this.handlerFailed(error);
      }
    }
  }

  private handlerFailed(error: unknown): void {
    if (this.onHandlerError !== undefined) {
      try {
        this.onHandlerError(error);
      } catch {
        // ignored: nothing may escape into the NATS client
      }
      return;
    }
    setImmediate(() => {
      throw error;
    });
  }

  private reject(reason: RejectReason, detail: string): void {
    this.rejected[reason] += 1;
    if (this.onReject === undefined) return;
    try {
      this.onReject(reason, detail);
    } catch {
      // ignored: a failing reporter must not break the channel
    }
  }
}
