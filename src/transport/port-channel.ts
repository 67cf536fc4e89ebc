import type { MessagePort } from 'node:worker_threads';
import type { Channel } from './channel.js';

/** A Channel over a worker_threads MessagePort (buffers are transferred). */
export class PortChannel<T> implements Channel<T> {
  constructor(private readonly port: MessagePort) {}

  send(message: T, transfer: ArrayBuffer[] = []): void {
    this.port.postMessage(message, transfer);
  }

  onMessage(handler: (message: T) => void): void {
    this.port.on('message', handler);
  }

  close(): void {
    this.port.close();
  }
}
