/**
 * Frames between devices on different hosts, over NATS: one direction of a channel, with the same
 * contract as a ring (runtime/frame.ts FrameWriter / FrameReader), so the channels, collectives and
 * row messages above it do not know which they use.
 *
 * Each frame is one NATS message on `<prefix>.f.<to>.<from>`: a 64-byte header (magic, kind,
 * sequence number, tag, dtype, shape, aux, a checksum of the payload, a checksum of the header)
 * and the payload. The channels split tensors into frames no larger than the server's max payload.
 * The reader checks every header and payload and takes frames strictly in sequence. It
 * acknowledges each frame once the channel has released it (`<prefix>.a.<from>.<to>`); the writer
 * keeps at most `window` bytes unacknowledged, which is the flow control, and keeps those frames:
 * after a reconnect, on a gap the reader reports (a NATS server restarted and lost what it held),
 * or when acknowledgements stall, it sends them again, and the reader drops the duplicates. A
 * frame that arrives corrupted is not taken: the reader asks for it again. A frame that never
 * comes fails the reader after `lostAfterMs` with a named error. Never a silent wrong sum.
 */
import type { NatsConnection, Subscription } from 'nats';
import { errors } from '../errors.js';
import { copyBytes } from '../runtime/copy.js';
import { frameHash } from './frame-hash.js';
import { checksum, dtypeCodes, dtypeNames, HEADER_BYTES, MAX_DIMS, type Frame, type FrameInit, type FrameReader, type FrameWriter } from '../runtime/frame.js';

const MAGIC = 0x464d4e4c; // "FMNL"
const ACK = 1, NACK = 2;
/** A reader acknowledges at least every this many bytes (a quarter of the default window). */
const ACK_BYTES = 2 << 20;
/** Header words: 0 magic · 1 kind · 2 seq · 3 tag · 4 dtype · 5 ndim · 6 payloadBytes · 7..12 shape · 13 aux · 14 payload checksum · 15 header checksum. */
const W = { kind: 1, seq: 2, tag: 3, dtype: 4, ndim: 5, bytes: 6, shape: 7, aux: 13, sum: 14 } as const;

export interface LinkOptions {
  /** Subject prefix of the run (the coordinator's session): links of other runs never mix. */
  prefix: string;
  from: number;
  to: number;
  /** Unacknowledged bytes the writer allows (default 8 MiB). */
  window?: number;
  /** Resend unacknowledged frames when no acknowledgement came for this long (default 500 ms). */
  resendAfterMs?: number;
  /** A reader waiting this long for a frame it knows was sent fails (default 10 s). */
  lostAfterMs?: number;
}

export const frameSubject = (prefix: string, to: number, from: number) => `${prefix}.f.${to}.${from}`;
export const ackSubject = (prefix: string, from: number, to: number) => `${prefix}.a.${from}.${to}`;

/** The writing end: frames to device `to`, kept until acknowledged. */
export class NatsFrameWriter implements FrameWriter {
  readonly maxPayload: number;
  fullWaits = 0;
  /** Frames sent again (after a reconnect, a gap, a corrupt frame or a stall). */
  resent = 0;
  private seq = 0;
  private acked = 0;
  private readonly unacked = new Map<number, Uint8Array>();
  private unackedBytes = 0;
  private readonly window: number;
  private readonly subject: string;
  private readonly ackSub: Subscription;
  private room: (() => void) | null = null;
  private lastProgress = performance.now();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly nc: NatsConnection, private readonly o: LinkOptions) {
    // The server's limit less our header, in whole 64-byte units (frames stay aligned for typed views).
    this.maxPayload = ((nc.info?.max_payload ?? 1 << 20) - HEADER_BYTES) & ~63;
    this.window = Math.max(o.window ?? 8 << 20, 2 * (this.maxPayload + HEADER_BYTES));
    this.subject = frameSubject(o.prefix, o.to, o.from);
    this.ackSub = nc.subscribe(ackSubject(o.prefix, o.from, o.to), { callback: (err, msg) => !err && this.onAck(msg.data) });
    const resendAfter = o.resendAfterMs ?? 500;
    this.timer = setInterval(() => {
      if (this.unacked.size && performance.now() - this.lastProgress > resendAfter) this.resendFrom(this.acked);
    }, resendAfter);
    this.timer.unref();
  }

  get used(): number {
    return this.unackedBytes;
  }

  async write(f: FrameInit): Promise<void> {
    if (this.closed) throw errors.collective(`link ${this.o.from}->${this.o.to}: closed`);
    const n = f.payload.byteLength;
    if (n > this.maxPayload) throw errors.frameTooLarge(`${this.o.from}->${this.o.to} (NATS)`, n, this.maxPayload);
    const code = dtypeCodes[f.dtype];
    if (code === undefined || f.shape.length > MAX_DIMS) throw errors.badFrame(`${this.o.from}->${this.o.to}`, this.seq, `dtype ${f.dtype}, ${f.shape.length} dims`);
    while (this.unackedBytes + n + HEADER_BYTES > this.window && this.unacked.size) {
      this.fullWaits++;
      await new Promise<void>((r) => (this.room = r));
      if (this.closed) throw errors.collective(`link ${this.o.from}->${this.o.to}: closed`);
    }
    const msg = new Uint8Array(HEADER_BYTES + n);
    const h = new Int32Array(msg.buffer, 0, HEADER_BYTES / 4);
    h[0] = MAGIC;
    h[W.kind] = f.kind;
    h[W.seq] = this.seq;
    h[W.tag] = f.tag;
    h[W.dtype] = code;
    h[W.ndim] = f.shape.length;
    h[W.bytes] = n;
    f.shape.forEach((d, i) => (h[W.shape + i] = d));
    h[W.aux] = f.aux ?? 0;
    copyBytes(msg, new Uint8Array(f.payload.buffer, f.payload.byteOffset, n), HEADER_BYTES);
    h[W.sum] = frameHash(msg, HEADER_BYTES, n);
    h[15] = checksum(h, 0);
    this.unacked.set(this.seq, msg);
    this.unackedBytes += msg.byteLength;
    this.seq++;
    if (this.nc.isClosed()) throw errors.collective(`link ${this.o.from}->${this.o.to}: the NATS connection is closed`);
    this.nc.publish(this.subject, msg);
  }

  private onAck(data: Uint8Array): void {
    if (data.byteLength !== 8) return;
    const dv = new DataView(data.buffer, data.byteOffset, 8);
    const kind = dv.getInt32(0, true), seq = dv.getInt32(4, true);
    if (kind === ACK) {
      // Cumulative: every frame before `seq` has been taken.
      for (let s = this.acked; s < seq; s++) {
        const m = this.unacked.get(s);
        if (m) this.unackedBytes -= m.byteLength;
        this.unacked.delete(s);
      }
      if (seq > this.acked) {
        this.acked = seq;
        this.lastProgress = performance.now();
      }
      const r = this.room;
      this.room = null;
      r?.();
    } else if (kind === NACK) this.resendFrom(seq);
  }

  /** Sends every unacknowledged frame from `seq` on again, in order (the reader drops duplicates). */
  resendFrom(seq: number): void {
    this.lastProgress = performance.now();
    for (let s = Math.max(seq, this.acked); s < this.seq; s++) {
      const m = this.unacked.get(s);
      if (!m) continue;
      if (this.nc.isClosed()) return;
      this.resent++;
      this.nc.publish(this.subject, m);
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.ackSub.unsubscribe();
    const r = this.room;
    this.room = null;
    r?.();
  }
}

/** The reading end: frames from device `from`, checked and taken in sequence. */
export class NatsFrameReader implements FrameReader {
  private next = 0;
  private readonly queue: Frame[] = [];
  private waiter: { resolve: (f: Frame | null) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly sub: Subscription;
  private readonly ack: string;
  private lastNack = -1;
  private lastNackAt = 0;
  /** When the reader first saw a frame past the one it waits for (it knows one is missing). */
  private missingSince = 0;
  private readonly timer: NodeJS.Timeout;
  /** Bytes released since the last acknowledgement. */
  private unackedBytes = 0;
  /** Frames dropped as duplicates, and frames refused as corrupt (and asked for again). */
  duplicates = 0;
  corrupt = 0;

  constructor(private readonly nc: NatsConnection, private readonly o: LinkOptions) {
    this.ack = ackSubject(o.prefix, o.from, o.to);
    this.sub = nc.subscribe(frameSubject(o.prefix, o.to, o.from), { callback: (err, msg) => (err ? this.fail(err) : this.onFrame(msg.data)) });
    const lostAfter = o.lostAfterMs ?? 10_000;
    this.timer = setInterval(() => {
      if (this.missingSince && performance.now() - this.missingSince > lostAfter) this.fail(errors.corruptFrame(this.name, this.next, `lost: frame ${this.next} never came in ${lostAfter} ms, though later ones did`));
    }, Math.min(lostAfter, 250));
    this.timer.unref();
  }

  private get name(): string {
    return `${this.o.from}->${this.o.to} (NATS)`;
  }

  private onFrame(msg: Uint8Array): void {
    if (this.failure) return;
    if (msg.byteLength < HEADER_BYTES) return this.refuse();
    // NATS hands over a view of its read buffer at any offset: an unaligned header is copied to be
    // read as words; the payload never is here (the channel copies it into its tensor).
    const h = msg.byteOffset % 4 === 0 ? new Int32Array(msg.buffer, msg.byteOffset, HEADER_BYTES / 4) : new Int32Array(new Uint8Array(msg.subarray(0, HEADER_BYTES)).buffer);
    if (h[0] !== MAGIC || h[15] !== checksum(h, 0)) return this.refuse();
    const seq = h[W.seq]!, n = h[W.bytes]!, ndim = h[W.ndim]!;
    if (seq < this.next) return void this.duplicates++;
    if (n !== msg.byteLength - HEADER_BYTES || ndim > MAX_DIMS || !dtypeNames[h[W.dtype]!]) return this.refuse();
    if (frameHash(msg, HEADER_BYTES, n) !== h[W.sum]) return this.refuse();
    if (seq > this.next) return this.gap();
    this.missingSince = 0;
    this.next++;
    const shape: number[] = [];
    for (let d = 0; d < ndim; d++) shape.push(h[W.shape + d]!);
    const frame: Frame = { kind: h[W.kind]!, seq, tag: h[W.tag]!, dtype: dtypeNames[h[W.dtype]!]!, shape, aux: h[W.aux]!, bytes: msg.subarray(HEADER_BYTES), frameBytes: msg.byteLength };
    if (this.waiter) this.waiter.resolve(frame);
    else this.queue.push(frame);
  }

  /** A corrupt frame is not taken: the writer sends it (and what follows) again. */
  private refuse(): void {
    this.corrupt++;
    this.nack(this.next);
  }

  /** A frame is missing (a later one came first): ask for it again, and start the clock on it. */
  private gap(): void {
    if (!this.missingSince) this.missingSince = performance.now();
    this.nack(this.next);
  }

  private nack(seq: number): void {
    const now = performance.now();
    if (seq === this.lastNack && now - this.lastNackAt < 100) return;
    [this.lastNack, this.lastNackAt] = [seq, now];
    this.send(NACK, seq);
  }

  private send(kind: number, seq: number): void {
    const b = new Uint8Array(8), dv = new DataView(b.buffer);
    dv.setInt32(0, kind, true);
    dv.setInt32(4, seq, true);
    if (!this.nc.isClosed()) this.nc.publish(this.ack, b);
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.waiter?.reject(e);
  }

  read(signal?: { stopped: boolean }): Promise<Frame | null> {
    if (this.failure) return Promise.reject(this.failure);
    const f = this.queue.shift();
    if (f) return Promise.resolve(f);
    if (signal?.stopped) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      // A stop while waiting: the signal is polled, as the ring reader checks it between waits.
      const poll = signal ? setInterval(() => signal.stopped && this.waiter?.resolve(null), 200) : undefined;
      poll?.unref();
      const settle = () => {
        clearInterval(poll);
        this.waiter = null;
      };
      this.waiter = { resolve: (v) => (settle(), resolve(v)), reject: (e) => (settle(), reject(e)) };
    });
  }

  /** Acknowledges every frame up to this one: the writer may drop them and send more. */
  release(frame: Frame): void {
    // Cumulative acknowledgements, batched: once a quarter of the writer's window is taken, or
    // whenever the reader has caught up (nothing queued), so a slow stream is never left waiting.
    this.unackedBytes += frame.frameBytes;
    if (this.queue.length === 0 || this.unackedBytes >= ACK_BYTES) {
      this.unackedBytes = 0;
      this.send(ACK, frame.seq + 1);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
    this.fail(errors.stopped(`link ${this.name}`));
  }
}
