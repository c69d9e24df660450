import { errors } from '../errors.js';
import { Tensor, type DType } from '../tensor/tensor.js';
import { TensorPool } from '../tensor/pool.js';
import { RingReader, RingWriter } from './ring.js';
import type { FrameReader, FrameWriter } from './frame.js';
import { copyBytes } from './copy.js';

/** The tag of actor messages between devices (mail.ts); above every collective and ship tag. */
export const MAIL_TAG = 0x7ffffff0;

const WHOLE = 0; // a message in one frame
const CHUNK = 1; // a chunk with more to follow
const LAST = 2; // the final chunk

interface Waiter {
  resolve: (t: Tensor) => void;
  reject: (e: Error) => void;
}

/**
 * Per (peer, tag) FIFO of arrived tensors and of receivers waiting for one. An emptied queue is
 * deleted at once: collectives use a fresh tag per call (2^18 per group before they wrap), so
 * queues left behind empty would pile up to hundreds of thousands of entries on a serving device.
 */
export class Inbox {
  private readonly ready = new Map<string, Tensor[]>();
  private readonly waiting = new Map<string, Waiter[]>();

  /** (peer, tag) keys with arrived tensors or waiting receivers. */
  get size(): number {
    return this.ready.size + this.waiting.size;
  }

  put(key: string, t: Tensor): void {
    const ws = this.waiting.get(key);
    if (ws) {
      const w = ws.shift()!;
      if (ws.length === 0) this.waiting.delete(key);
      return w.resolve(t);
    }
    const q = this.ready.get(key);
    if (q) q.push(t);
    else this.ready.set(key, [t]);
  }

  take(key: string): Promise<Tensor> {
    const q = this.ready.get(key);
    if (q) {
      const t = q.shift()!;
      if (q.length === 0) this.ready.delete(key);
      return Promise.resolve(t);
    }
    return new Promise((resolve, reject) => {
      const ws = this.waiting.get(key);
      if (ws) ws.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
    });
  }

  /** Rejects receivers waiting on `peer` (its device went down; what it was sending is lost). */
  failPeer(peer: number, e: Error): void {
    for (const [key, q] of this.waiting) {
      if (!key.startsWith(`${peer}:`)) continue;
      for (const w of q) w.reject(e);
      this.waiting.delete(key);
    }
    for (const key of this.ready.keys()) if (key.startsWith(`${peer}:`)) this.ready.delete(key);
  }

  failAll(e: Error): void {
    for (const q of this.waiting.values()) for (const w of q) w.reject(e);
    this.waiting.clear();
  }

  /** Drops arrived tensors and fails receivers whose tag matches (a collective epoch that ended). */
  drop(tagMatches: (tag: number) => boolean, e: Error): void {
    const tagOf = (key: string) => Number(key.slice(key.indexOf(':') + 1));
    for (const key of [...this.ready.keys()]) if (tagMatches(tagOf(key))) this.ready.delete(key);
    for (const [key, q] of [...this.waiting]) {
      if (!tagMatches(tagOf(key))) continue;
      for (const w of q) w.reject(e);
      this.waiting.delete(key);
    }
  }
}

/**
 * A device's ends of the channel mesh: a writer to and a reader from every peer. A drain loop per
 * incoming ring copies each arrived tensor out (so the ring frees at once) and files it by tag;
 * tensors larger than a frame travel as consecutive chunks, which a per-peer write lock keeps together.
 */
export class DeviceChannels {
  private readonly writers = new Map<number, FrameWriter>();
  private readonly readers = new Map<number, FrameReader>();
  private readonly locks = new Map<number, Promise<void>>();
  private readonly inbox = new Inbox();
  private readonly stop = { stopped: false };
  private readonly generations = new Map<number, { stopped: boolean }>();
  readonly sent = new Map<number, number>();
  readonly received = new Map<number, number>();
  private failure: Error | null = null;
  /** Received tensors live in pooled storage; `recycle` returns them (fresh pages fault, reused ones do not). */
  readonly pool = new TensorPool();

  constructor(readonly device: number) {}

  /** Returns a received tensor's storage to the pool; the tensor must not be used afterwards. */
  recycle(t: Tensor): void {
    if (this.pool.owns(t)) this.pool.release(t);
  }

  /** Installs (or replaces, after a peer restarted) the rings to and from `peer` and starts draining. */
  connect(peer: number, out: SharedArrayBuffer, inn: SharedArrayBuffer): void {
    this.connectLink(peer, new RingWriter(out, `${this.device}->${peer}`), new RingReader(inn, `${peer}->${this.device}`));
  }

  /** Installs (or replaces) any two ends of a channel to and from `peer`: rings, or a link between hosts. */
  connectLink(peer: number, writer: FrameWriter, reader: FrameReader): void {
    const previous = this.generations.get(peer);
    if (previous) {
      previous.stopped = true;
      // Ends that hold resources (a NATS link's subscriptions and timers) are closed; rings have none.
      (this.writers.get(peer) as { close?: () => void } | undefined)?.close?.();
      (this.readers.get(peer) as { close?: () => void } | undefined)?.close?.();
      this.inbox.failPeer(peer, errors.collective(`device ${peer} restarted; data it was sending to device ${this.device} is lost`));
    }
    const generation = { stopped: false };
    this.generations.set(peer, generation);
    this.writers.set(peer, writer);
    this.locks.delete(peer);
    this.readers.set(peer, reader);
    void this.drain(peer, reader, generation);
  }

  private async drain(peer: number, reader: FrameReader, generation: { stopped: boolean }): Promise<void> {
    let partial: Tensor | null = null;
    try {
      while (!this.stop.stopped && !generation.stopped) {
        const f = await reader.read(generation);
        if (!f) break;
        // Copy out of the ring into pooled storage, so the ring frees at once.
        const t: Tensor = partial ?? this.pool.alloc(f.shape, f.dtype as DType, false);
        copyBytes(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), f.bytes, f.kind === WHOLE ? 0 : f.aux);
        reader.release(f);
        if (f.kind === CHUNK) partial = t;
        else {
          partial = null;
          this.deliver(peer, f.tag, t);
        }
      }
    } catch (e) {
      if (generation.stopped) return; // its ends were replaced and closed (the peer was rebuilt)
      this.failure = e as Error;
      this.inbox.failAll(e as Error);
    }
  }

  private deliver(peer: number, tag: number, t: Tensor): void {
    this.received.set(peer, (this.received.get(peer) ?? 0) + 1);
    if (tag === MAIL_TAG && this.onMail) return this.onMail(peer, t);
    this.inbox.put(`${peer}:${tag}`, t);
  }

  /** Receives actor messages (tag MAIL_TAG) as they arrive, instead of filing them (the device's Mailroom). */
  onMail?: (peer: number, t: Tensor) => void;

  /** Sends `t` to `peer`; resolves once it is in the ring (waits while the ring is full). */
  send(peer: number, tag: number, t: Tensor): Promise<void> {
    const w = this.writers.get(peer);
    if (!w) return Promise.reject(errors.collective(`device ${this.device} has no channel to device ${peer}`));
    const prev = this.locks.get(peer) ?? Promise.resolve();
    const next = prev.then(() => this.write(w, tag, t));
    this.locks.set(peer, next.catch(() => undefined));
    this.sent.set(peer, (this.sent.get(peer) ?? 0) + 1);
    return next;
  }

  private async write(w: FrameWriter, tag: number, t: Tensor): Promise<void> {
    const dtype = t.dtype as 'f32' | 'i32' | 'f64';
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const max = w.maxPayload & ~7;
    if (bytes.byteLength <= max) return w.write({ kind: WHOLE, tag, dtype, shape: t.shape, payload: bytes });
    for (let off = 0; off < bytes.byteLength; off += max) {
      const end = Math.min(bytes.byteLength, off + max);
      await w.write({ kind: end === bytes.byteLength ? LAST : CHUNK, tag, dtype, shape: t.shape, payload: bytes.subarray(off, end), aux: off });
    }
  }

  /** `peer` died: receivers waiting on it fail now (not when it is rebuilt, which may never happen). */
  peerDown(peer: number): void {
    this.inbox.failPeer(peer, errors.collective(`device ${peer} went down; data it was sending to device ${this.device} is lost`));
  }

  /** Drops what arrived under tags `tagMatches` accepts, failing receivers waiting on them (collectives.reset). */
  drop(tagMatches: (tag: number) => boolean, e: Error): void {
    this.inbox.drop(tagMatches, e);
  }

  recv(peer: number, tag: number): Promise<Tensor> {
    if (this.failure) return Promise.reject(this.failure);
    return this.inbox.take(`${peer}:${tag}`);
  }

  stats() {
    return [...this.writers.entries()].map(([peer, w]) => ({
      peer,
      sentFrames: this.sent.get(peer) ?? 0,
      receivedFrames: this.received.get(peer) ?? 0,
      fullWaits: w.fullWaits,
      usedBytes: w.used,
    }));
  }

  close(): void {
    this.stop.stopped = true;
    for (const g of this.generations.values()) g.stopped = true;
    this.inbox.failAll(errors.stopped(`channels of device ${this.device}`));
  }
}
