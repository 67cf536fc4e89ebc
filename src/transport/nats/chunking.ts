/**
 * Splitting an encoded message into chunks no larger than a transport's payload limit, and
 * putting it back together on the other side with bounded memory.
 *
 * A chunk carries `{ id, index, count, total, chunkSize }`: every chunk but the last holds exactly
 * `chunkSize` bytes at offset `index * chunkSize`, the last holds the rest, and `total` is the
 * message length. The receiver allocates `total` bytes on the first chunk it sees of a message
 * (whatever its index: chunks may arrive in any order), copies each chunk into place, and hands
 * the message out when all `count` chunks are in. Chunks are checked against each other (same
 * geometry, right length, no duplicate index), so a malformed or malicious chunk cannot write
 * outside its slot or make a message look complete with a gap.
 *
 * Memory is bounded: a message larger than `maxMessageBytes` is refused on its first chunk; the
 * bytes reserved by partial messages never exceed `maxBytesInFlight` (the oldest partial messages
 * are dropped to make room); a partial message older than `maxAgeMs` is dropped. Every drop is
 * counted and reported once per message; later chunks of a dropped message are ignored quietly.
 */

/** Position of one chunk within its message. */
export interface ChunkHeader {
  /** Message id, unique per sender (the reassembler keys partial messages by sender and id). */
  id: string;
  index: number;
  count: number;
  /** Length of the whole message in bytes. */
  total: number;
  /** Length of every chunk but the last. */
  chunkSize: number;
}

export interface Chunk extends ChunkHeader {
  /** A view into the encoded message (no copy). */
  data: Uint8Array;
}

/** Message ids: a random prefix per process and a counter, so ids from two senders never collide. */
const ID_PREFIX = Math.floor(Math.random() * 0x100000000).toString(36);
let idCounter = 0;
export function newMessageId(): string {
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${ID_PREFIX}.${idCounter.toString(36)}`;
}

/** Message ids on the wire: letters, digits, `.`, `-` and `_`, at most 64 characters. */
const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Splits `payload` into chunks of at most `chunkSize` bytes (views, no copies). A payload that
 * fits gives one chunk. An empty payload gives one empty chunk.
 */
export function splitPayload(payload: Uint8Array, chunkSize: number, id: string = newMessageId()): Chunk[] {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunk size must be a positive integer, got ${chunkSize}`);
  if (!ID_PATTERN.test(id)) throw new RangeError(`bad message id ${JSON.stringify(id)}`);
  const total = payload.byteLength;
  const count = Math.max(1, Math.ceil(total / chunkSize));
  const chunks: Chunk[] = [];
  for (let index = 0; index < count; index += 1) {
    const start = index * chunkSize;
    chunks.push({ id, index, count, total, chunkSize, data: payload.subarray(start, Math.min(total, start + chunkSize)) });
  }
  return chunks;
}

/** The header as one line of text (`id index count total chunkSize`), e.g. for a NATS header. */
export function formatChunkHeader(header: ChunkHeader): string {
  return `${header.id} ${header.index} ${header.count} ${header.total} ${header.chunkSize}`;
}

const HEADER_PATTERN = /^([A-Za-z0-9._-]{1,64}) (\d{1,15}) (\d{1,15}) (\d{1,15}) (\d{1,15})$/;

/** Parses `formatChunkHeader`'s text; returns null when it is malformed or inconsistent. */
export function parseChunkHeader(text: string): ChunkHeader | null {
  const match = HEADER_PATTERN.exec(text);
  if (match === null) return null;
  const [, id, index, count, total, chunkSize] = match as unknown as [string, string, string, string, string, string];
  const header: ChunkHeader = { id, index: Number(index), count: Number(count), total: Number(total), chunkSize: Number(chunkSize) };
  return geometryError(header) === null ? header : null;
}

/** Why a header's numbers cannot describe a split made by `splitPayload`, or null when they can. */
function geometryError(h: ChunkHeader): string | null {
  if (h.chunkSize < 1) return 'chunk size 0';
  if (h.count < 1) return 'chunk count 0';
  if (h.index >= h.count) return `chunk index ${h.index} >= count ${h.count}`;
  if (h.count !== Math.max(1, Math.ceil(h.total / h.chunkSize))) return `count ${h.count} does not match total ${h.total} / chunk size ${h.chunkSize}`;
  return null;
}

function expectedLength(h: ChunkHeader): number {
  return h.index < h.count - 1 ? h.chunkSize : h.total - h.chunkSize * (h.count - 1);
}

export type ReassemblyDropReason =
  /** Declared length above `maxMessageBytes` (or above `maxBytesInFlight`). */
  | 'oversized'
  /** Chunks that contradict each other or their own header (wrong length, duplicate, geometry). */
  | 'chunk'
  /** Partial message older than `maxAgeMs`. */
  | 'expired'
  /** Partial message dropped to keep the reserved bytes under `maxBytesInFlight`. */
  | 'overflow';

export interface ReassemblerOptions {
  /** Largest message accepted, in bytes (default 64 MiB). */
  maxMessageBytes?: number;
  /** Most bytes reserved by partial messages at once (default 128 MiB). */
  maxBytesInFlight?: number;
  /** A partial message older than this is dropped (default 30 s). */
  maxAgeMs?: number;
  /** Ids of dropped messages remembered, to ignore their later chunks quietly (default 1024). */
  rememberDropped?: number;
  /** Monotonic clock in milliseconds (default performance.now; tests pass their own). */
  now?: () => number;
  /** Called once per dropped message. */
  onDrop?: (reason: ReassemblyDropReason, detail: string) => void;
}

export type AcceptResult =
  | { status: 'complete'; payload: Uint8Array }
  | { status: 'partial' }
  /** Dropped now (already reported through onDrop and counted). */
  | { status: 'dropped'; reason: ReassemblyDropReason; detail: string }
  /** A chunk of a message dropped earlier: ignored. */
  | { status: 'ignored' };

interface Partial {
  key: string;
  header: ChunkHeader;
  buffer: Uint8Array;
  received: Uint8Array;
  receivedCount: number;
  startedAt: number;
}

/** Puts chunked messages back together; one per receiving subscription. */
export class Reassembler {
  readonly maxMessageBytes: number;
  readonly maxBytesInFlight: number;
  readonly maxAgeMs: number;
  /** Messages dropped, by reason. */
  readonly dropped: Record<ReassemblyDropReason, number> = { oversized: 0, chunk: 0, expired: 0, overflow: 0 };
  /** Messages completed from more than one chunk. */
  completed = 0;

  private readonly partials = new Map<string, Partial>(); // insertion order = age order
  private readonly droppedKeys = new Set<string>();
  private readonly rememberDropped: number;
  private readonly now: () => number;
  private readonly onDrop?: (reason: ReassemblyDropReason, detail: string) => void;
  private reserved = 0;

  constructor(options: ReassemblerOptions = {}) {
    this.maxMessageBytes = positive(options.maxMessageBytes ?? 64 * 1024 * 1024, 'maxMessageBytes');
    this.maxBytesInFlight = positive(options.maxBytesInFlight ?? 128 * 1024 * 1024, 'maxBytesInFlight');
    this.maxAgeMs = positive(options.maxAgeMs ?? 30_000, 'maxAgeMs');
    this.rememberDropped = Math.max(0, options.rememberDropped ?? 1024);
    this.now = options.now ?? (() => performance.now());
    this.onDrop = options.onDrop;
  }

  /** Bytes reserved by partial messages now. */
  get bytesInFlight(): number {
    return this.reserved;
  }

  /** Partial messages held now. */
  get pending(): number {
    return this.partials.size;
  }

  /**
   * Takes one chunk. `sender` scopes the message id (chunks of equal ids from different senders
   * are different messages). `data` is copied, so the caller may reuse it.
   */
  accept(sender: string, header: ChunkHeader, data: Uint8Array): AcceptResult {
    this.sweep();
    const key = `${sender}\u0000${header.id}`;
    if (this.droppedKeys.has(key)) return { status: 'ignored' };

    const bad = geometryError(header);
    if (bad !== null) return this.drop(key, 'chunk', `message ${header.id}: ${bad}`);
    if (data.byteLength !== expectedLength(header)) {
      return this.drop(key, 'chunk', `message ${header.id} chunk ${header.index}: ${data.byteLength} bytes, expected ${expectedLength(header)}`);
    }

    let partial = this.partials.get(key);
    if (partial === undefined) {
      if (header.total > this.maxMessageBytes) {
        return this.drop(key, 'oversized', `message ${header.id}: ${header.total} bytes > limit ${this.maxMessageBytes}`);
      }
      if (header.count === 1) {
        this.completed += 1;
        return { status: 'complete', payload: data.slice() };
      }
      if (header.total > this.maxBytesInFlight) {
        return this.drop(key, 'oversized', `message ${header.id}: ${header.total} bytes > in-flight limit ${this.maxBytesInFlight}`);
      }
      // Make room by dropping the oldest partial messages.
      for (const old of this.partials.values()) {
        if (this.reserved + header.total <= this.maxBytesInFlight) break;
        this.drop(old.key, 'overflow', `message ${old.header.id}: ${this.reserved} bytes in flight, ${header.total} more needed (limit ${this.maxBytesInFlight})`);
      }
      partial = {
        key,
        header: { ...header },
        buffer: new Uint8Array(header.total),
        received: new Uint8Array(header.count),
        receivedCount: 0,
        startedAt: this.now(),
      };
      this.partials.set(key, partial);
      this.reserved += header.total;
    } else {
      const h = partial.header;
      if (h.count !== header.count || h.total !== header.total || h.chunkSize !== header.chunkSize) {
        return this.drop(key, 'chunk', `message ${header.id} chunk ${header.index}: header disagrees with earlier chunks`);
      }
      if (partial.received[header.index] === 1) {
        return this.drop(key, 'chunk', `message ${header.id}: chunk ${header.index} received twice`);
      }
    }

    partial.buffer.set(data, header.index * header.chunkSize);
    partial.received[header.index] = 1;
    partial.receivedCount += 1;
    if (partial.receivedCount < header.count) return { status: 'partial' };

    this.partials.delete(key);
    this.reserved -= header.total;
    this.completed += 1;
    return { status: 'complete', payload: partial.buffer };
  }

  /** Drops partial messages older than `maxAgeMs`; `accept` calls it, a timer may too. */
  sweep(): void {
    if (this.partials.size === 0) return;
    const now = this.now();
    for (const partial of this.partials.values()) {
      const age = now - partial.startedAt;
      if (age <= this.maxAgeMs) break; // insertion order is age order
      this.drop(partial.key, 'expired', `message ${partial.header.id}: ${partial.receivedCount} of ${partial.header.count} chunks after ${age} ms`);
    }
  }

  /** Forgets every partial message (not counted as drops). */
  clear(): void {
    this.partials.clear();
    this.droppedKeys.clear();
    this.reserved = 0;
  }

  private drop(key: string, reason: ReassemblyDropReason, detail: string): AcceptResult {
    const partial = this.partials.get(key);
    if (partial !== undefined) {
      this.partials.delete(key);
      this.reserved -= partial.header.total;
    }
    if (this.rememberDropped > 0) {
      this.droppedKeys.add(key);
      if (this.droppedKeys.size > this.rememberDropped) {
        const oldest = this.droppedKeys.values().next();
        if (oldest.done !== true) this.droppedKeys.delete(oldest.value);
      }
    }
    this.dropped[reason] += 1;
    this.onDrop?.(reason, detail);
    return { status: 'dropped', reason, detail };
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw new RangeError(`${name} must be positive, got ${value}`);
  return value;
}
