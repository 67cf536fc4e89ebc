/**
 * Binary encoding of stage messages for transports that cross a process boundary.
 *
 * MessagePack via msgpackr, with two options that matter:
 * - `useRecords: false`: plain MessagePack maps, no msgpackr record extension (no shared
 *   structure state between encoder and decoder, so any decoder can read any message);
 * - `moreTypes: true`: typed arrays are written as msgpackr's typed-array extension (type 0x74,
 *   one byte naming the array type followed by the raw bytes, one memcpy), and decode as the same
 *   typed array class. Without it a Float32Array is written as a MessagePack `bin` and comes back
 *   as a Buffer of its bytes.
 *
 * Decoding copies each typed array once into its own aligned ArrayBuffer (msgpackr slices the
 * bytes), so decoded arrays never alias the network buffer and can be transferred onwards to a
 * worker. `copyBuffers: true` does the same for plain `bin` values (Buffers).
 */
import { Packr } from 'msgpackr';

/** Checks a decoded value (shape, kind, sizes) and throws when it is not an acceptable message. */
export type Validator<T> = (value: unknown) => asserts value is T;

/** Thrown by `decodeMessage` for bytes that are not one well-formed MessagePack value. */
export class DecodeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DecodeError';
  }
}

/** Thrown by `decodeMessage` when the validator rejects a decoded value. */
export class ValidationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ValidationError';
  }
}

const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  copyBuffers: true,
  // Maps decode as plain objects (the default with useRecords: false; stated for clarity).
  mapsAsObjects: true,
});

/**
 * Encodes one message. The result is a view into a buffer msgpackr keeps writing after (never
 * over), so it stays valid; it is not detached from the source typed arrays' buffers (those are
 * copied, the caller keeps them).
 */
export function encodeMessage(message: unknown): Uint8Array {
  return packr.pack(message);
}

/**
 * Decodes one message and, when a validator is given, checks it.
 * Throws `DecodeError` (not MessagePack, truncated, trailing bytes, bad typed-array length) or
 * `ValidationError` (the validator threw).
 */
export function decodeMessage<T = unknown>(bytes: Uint8Array, validate?: Validator<T>): T {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (error) {
    throw new DecodeError(`cannot decode message: ${errorText(error)}`, { cause: error });
  }
  if (validate !== undefined) {
    const check: Validator<T> = validate;
    try {
      check(value);
    } catch (error) {
      throw new ValidationError(`invalid message: ${errorText(error)}`, { cause: error });
    }
  }
  return value as T;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
