/** One direction of a link between two workers. MessagePorts now; other transports implement the same. */
export interface Channel<T> {
  /** Sends a message; the buffers listed in `transfer` are moved, not copied, and become unusable here. */
  send(message: T, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (message: T) => void): void;
  close(): void;
}
