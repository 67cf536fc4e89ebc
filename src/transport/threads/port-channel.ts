import { receiveMessageOnPort, type MessagePort, type TransferListItem } from 'node:worker_threads';
import type { Channel } from '../../loop/channel.js';

/** A Channel over a worker_threads MessagePort (buffers are transferred). */
export class PortChannel<T> implements Channel<T> {
  constructor(private readonly port: MessagePort) {}

  send(message: T, transfer: readonly TransferListItem[] = []): void {
    this.port.postMessage(message, transfer as TransferListItem[]);
  }

  onMessage(handler: (message: T) => void): void {
    this.port.on('message', handler);
  }

  /** The next waiting message, taken now (no event-loop turn), or undefined when none is waiting. */
  receive(): T | undefined {
    return (receiveMessageOnPort(this.port) as { message: T } | undefined)?.message;
  }

  close(): void {
    this.port.close();
  }
}
