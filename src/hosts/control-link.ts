/**
 * Control messages between a coordinator and a device on a host, over NATS links (nats-link.ts):
 * in order, acknowledged, and sent again after a reconnect or a loss, so a restarted NATS server
 * loses none (a plain publish is dropped when the server restarts between it and the subscriber's
 * return). Messages larger than a frame go as consecutive parts. The coordinator's end is numbered
 * -1 in the link's subjects.
 */
import type { NatsConnection } from 'nats';
import { NatsFrameReader, NatsFrameWriter } from './nats-link.js';

export const COORDINATOR = -1;
const WHOLE = 0, PART = 1, LAST = 2;

export class ControlLink {
  private readonly writer: NatsFrameWriter;
  private readonly reader: NatsFrameReader;
  private queue: Promise<void> = Promise.resolve();
  private readonly stop = { stopped: false };

  constructor(nc: NatsConnection, prefix: string, me: number, peer: number, private readonly onMessage: (bytes: Uint8Array) => void, private readonly onFailure: (e: Error) => void) {
    this.writer = new NatsFrameWriter(nc, { prefix, from: me, to: peer });
    this.reader = new NatsFrameReader(nc, { prefix, from: peer, to: me });
    void this.pump();
  }

  /** Sends one message (after every message sent before it). */
  send(bytes: Uint8Array): void {
    const max = this.writer.maxPayload, n = bytes.byteLength;
    this.queue = this.queue.then(async () => {
      if (n <= max) return this.writer.write({ kind: WHOLE, tag: 0, dtype: 'u8', shape: [n], payload: bytes });
      for (let at = 0; at < n; at += max) {
        const end = Math.min(n, at + max);
        await this.writer.write({ kind: end === n ? LAST : PART, tag: 0, dtype: 'u8', shape: [n], payload: bytes.subarray(at, end), aux: at });
      }
    }).catch((e: Error) => this.onFailure(e));
  }

  private async pump(): Promise<void> {
    let whole: Uint8Array | null = null;
    try {
      for (;;) {
        const f = await this.reader.read(this.stop);
        if (!f) return;
        if (f.kind === WHOLE) this.onMessage(new Uint8Array(f.bytes));
        else {
          if (f.aux === 0 || !whole) whole = new Uint8Array(f.shape[0]!);
          whole.set(f.bytes, f.aux);
          if (f.kind === LAST) {
            const done = whole;
            whole = null;
            this.onMessage(done);
          }
        }
        this.reader.release(f);
      }
    } catch (e) {
      if (!this.stop.stopped) this.onFailure(e as Error);
    }
  }

  close(): void {
    this.stop.stopped = true;
    this.writer.close();
    this.reader.close();
  }
}
