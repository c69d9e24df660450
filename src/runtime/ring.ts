import { errors } from '../errors.js';
import { Buffer } from 'node:buffer';
import { copyIntoBuffer } from './copy.js';
import { align64, checksum, dtypeCodes, dtypeNames, HEADER_BYTES, MAX_DIMS, type Frame, type FrameInit } from './frame.js';
import { MAX_SPIN_FACTOR, nextSpin, spinIterations } from './spin.js';

// The frame format and the spin policy live in their own files; importers of the ring get both here.
export { dtypeCodes, HEADER_BYTES, MAX_DIMS, payloadView, type Frame, type FrameDType, type FrameInit } from './frame.js';
export { MAX_SPIN_FACTOR, nextSpin, setSpinIterations, spinIterations } from './spin.js';

/**
 * A single-producer / single-consumer ring of tensor frames in a SharedArrayBuffer.
 *
 * Layout: a 256-byte control block (write cursor at Int32 index 0, read cursor at index 32: 128 bytes
 * apart, so producer and consumer never share a cache line), then `capacity` bytes of frames
 * (a power of two). Cursors are free-running uint32 byte counters, wrap-safe with `>>> 0`.
 *
 * A frame is a 64-byte header of Int32 fields followed by its payload, padded to 64 bytes and never
 * split: when it does not fit before the end, a PAD frame covers the tail, so every payload is
 * contiguous and aligned and the reader can view it in place. Header words (frame.ts):
 *   0 magic · 1 frameBytes · 2 kind · 3 seq · 4 tag · 5 dtype · 6 ndim · 7 payloadBytes
 *   8..13 shape · 14 aux · 15 checksum of words 0..14
 * The writer publishes with a sequentially consistent store of the write cursor after plain writes
 * of header and payload; the reader loads the cursor before reading them (the JS memory model's
 * synchronizes-with edge), so no other fence is needed.
 *
 * Each side parks only after raising its own "waiting" flag (Int32 index 16 for the reader, 48 for
 * the writer, each on a cache line of its own) and checking the cursor once more; the other side
 * calls Atomics.notify only when it sees the flag. Both are sequentially consistent, so either the
 * parking side sees the new cursor or the publishing side sees the flag (no lost wake-up), and the
 * common case — the peer is spinning or busy — skips notify, which takes a process-wide lock.
 */
export const CONTROL_BYTES = 256;
const WRITE = 0;
const READER_WAITING = 16;
const READ = 32;
const WRITER_WAITING = 48;
const MAGIC = 0x464d4f45; // "FMOE"
const PAD = -1;

/**
 * The ring between two devices: 4 MiB of frames, room for three 1 MiB frames in flight (larger
 * tensors travel in chunks, channels.ts). It had been 16 MiB ("eight 1 MiB frames" rounded up to a
 * power of two): a 64 KiB stream cycling through 16 MiB leaves the caches (bench/channels.ts, warm:
 * 24.8–25.5 GB/s through 16 MiB, 29.6–30.3 through 4 MiB; 1 MiB frames 18–26 either way), and
 * rings grow with the square of the device count (16 devices: 240 rings).
 */
export const DEVICE_RING_BYTES = CONTROL_BYTES + (4 << 20);

/** Bytes of SharedArrayBuffer for a ring holding about `frames` frames of `maxPayloadBytes`. */
export function ringBytes(maxPayloadBytes: number, frames = 8): number {
  const need = align64(HEADER_BYTES + maxPayloadBytes) * frames;
  let cap = 4096;
  while (cap < need) cap *= 2;
  return CONTROL_BYTES + cap;
}

abstract class RingEnd {
  protected readonly ctl: Int32Array;
  protected readonly i32: Int32Array;
  protected readonly u8: Uint8Array;
  readonly capacity: number;
  protected readonly mask: number;
  protected seq = 0;

  constructor(readonly sab: SharedArrayBuffer, readonly name: string) {
    this.capacity = sab.byteLength - CONTROL_BYTES;
    if (this.capacity < 4096 || (this.capacity & (this.capacity - 1)) !== 0) throw errors.ringSize(name, sab.byteLength);
    this.mask = this.capacity - 1;
    this.ctl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.i32 = new Int32Array(sab, CONTROL_BYTES, this.capacity / 4);
    this.u8 = new Uint8Array(sab, CONTROL_BYTES, this.capacity);
  }

  /** Bytes written but not yet released: a cheap load signal. */
  get used(): number {
    return (Atomics.load(this.ctl, WRITE) - Atomics.load(this.ctl, READ)) >>> 0;
  }

  /** The largest payload one frame can carry (half the ring, so a frame plus padding always fits). */
  get maxPayload(): number {
    return (this.capacity >>> 1) - HEADER_BYTES;
  }
}

const WRITTEN: Promise<void> = Promise.resolve();

export class RingWriter extends RingEnd {
  private w: number;
  /** The data area as one Buffer, made once: payloads are copied in with Buffer#fill (a plain memcpy; copy.ts). */
  private readonly buf: Buffer;
  fullWaits = 0;
  /** Frames after which the reader was parked and had to be woken (a futex wake each). */
  wakes = 0;
  /** Parked waits that ended by timeout rather than a wake-up from the reader. */
  timeouts = 0;

  constructor(sab: SharedArrayBuffer, name: string) {
    super(sab, name);
    this.w = Atomics.load(this.ctl, WRITE);
    this.buf = Buffer.from(sab, CONTROL_BYTES, this.capacity);
  }

  private plan(payloadBytes: number): { total: number; need: number; pad: number } {
    const need = align64(HEADER_BYTES + payloadBytes);
    if (need > this.capacity >>> 1) throw errors.frameTooLarge(this.name, payloadBytes, this.maxPayload);
    const toEnd = this.capacity - (this.w & this.mask);
    return need > toEnd ? { total: toEnd + need, need, pad: toEnd } : { total: need, need, pad: 0 };
  }

  private free(): number {
    return this.capacity - ((this.w - Atomics.load(this.ctl, READ)) >>> 0);
  }

  /** Spins a bounded while for `bytes` of room (no closure: this runs on every full-ring wait). */
  private spinForSpace(bytes: number): boolean {
    for (let i = 0; i < spinIterations; i++) if (this.free() >= bytes) return true;
    return false;
  }

  /** Writes a frame if it fits now; false when the ring is full (nothing is written or dropped). */
  tryWrite(f: FrameInit): boolean {
    const p = this.plan(f.payload.byteLength);
    if (this.free() < p.total) return false;
    this.commit(f, p.need, p.pad);
    return true;
  }

  /** Writes a frame, awaiting space while the ring is full (backpressure; the event loop stays live). */
  write(f: FrameInit): Promise<void> {
    // The common case needs no async machinery: one already-settled promise for every such write.
    return this.tryWrite(f) ? WRITTEN : this.writeWhenFree(f);
  }

  private async writeWhenFree(f: FrameInit): Promise<void> {
    const p = this.plan(f.payload.byteLength);
    while (this.free() < p.total) {
      this.fullWaits++;
      if (this.spinForSpace(p.total)) break;
      Atomics.store(this.ctl, WRITER_WAITING, 1);
      const r = Atomics.load(this.ctl, READ);
      if (this.capacity - ((this.w - r) >>> 0) < p.total) {
        const res = Atomics.waitAsync(this.ctl, READ, r, 1000);
        if (res.async && (await res.value) === 'timed-out') this.timeouts++;
      }
      Atomics.store(this.ctl, WRITER_WAITING, 0);
    }
    this.commit(f, p.need, p.pad);
  }

  /** Blocking write (Atomics.wait); only for threads with no event loop work to do. */
  writeSync(f: FrameInit): void {
    const p = this.plan(f.payload.byteLength);
    while (this.free() < p.total) {
      this.fullWaits++;
      Atomics.store(this.ctl, WRITER_WAITING, 1);
      const r = Atomics.load(this.ctl, READ);
      if (this.capacity - ((this.w - r) >>> 0) < p.total) Atomics.wait(this.ctl, READ, r, 1000);
      Atomics.store(this.ctl, WRITER_WAITING, 0);
    }
    this.commit(f, p.need, p.pad);
  }

  private commit(f: FrameInit, need: number, pad: number): void {
    if (f.shape.length > MAX_DIMS) throw errors.badFrame(this.name, this.seq, `rank ${f.shape.length} > ${MAX_DIMS}`);
    const i32 = this.i32;
    if (pad) {
      const q = (this.w & this.mask) >> 2;
      i32[q] = MAGIC;
      i32[q + 1] = pad;
      i32[q + 2] = PAD;
      this.w = (this.w + pad) | 0;
    }
    const pos = this.w & this.mask, q = pos >> 2;
    i32[q] = MAGIC;
    i32[q + 1] = need;
    i32[q + 2] = f.kind;
    i32[q + 3] = this.seq++;
    i32[q + 4] = f.tag;
    i32[q + 5] = dtypeCodes[f.dtype];
    i32[q + 6] = f.shape.length;
    i32[q + 7] = f.payload.byteLength;
    for (let d = 0; d < MAX_DIMS; d++) i32[q + 8 + d] = f.shape[d] ?? 0;
    i32[q + 14] = f.aux ?? 0;
    i32[q + 15] = checksum(i32, q);
    copyIntoBuffer(this.buf, f.payload, pos + HEADER_BYTES);
    this.w = (this.w + need) | 0;
    Atomics.store(this.ctl, WRITE, this.w);
    if (Atomics.load(this.ctl, READER_WAITING)) {
      this.wakes++;
      Atomics.notify(this.ctl, WRITE, 1);
    }
  }
}

export class RingReader extends RingEnd {
  private r: number;
  /** Current spin budget before parking (adaptive: `nextSpin`). */
  private spin = spinIterations;
  emptyWaits = 0;
  /** Parked waits that ended by timeout rather than a wake-up from the writer. */
  timeouts = 0;

  constructor(sab: SharedArrayBuffer, name: string) {
    super(sab, name);
    this.r = Atomics.load(this.ctl, READ);
  }

  /** The next frame, viewed in place, or null when empty. Call `release` when done with it. */
  tryRead(): Frame | null {
    for (;;) {
      const w = Atomics.load(this.ctl, WRITE);
      if (w === this.r) return null;
      const pos = this.r & this.mask, q = pos >> 2, i32 = this.i32;
      if (i32[q] !== MAGIC) throw errors.corruptFrame(this.name, this.seq, 'bad magic');
      const frameBytes = i32[q + 1]!;
      if (i32[q + 2] === PAD) {
        if (frameBytes <= 0 || frameBytes > this.capacity - pos) throw errors.corruptFrame(this.name, this.seq, 'bad padding');
        this.r = (this.r + frameBytes) | 0;
        continue;
      }
      if (i32[q + 15] !== checksum(i32, q)) throw errors.corruptFrame(this.name, this.seq, 'header checksum mismatch');
      const payloadBytes = i32[q + 7]!, ndim = i32[q + 6]!;
      if (frameBytes !== align64(HEADER_BYTES + payloadBytes) || frameBytes > ((w - this.r) >>> 0) || ndim > MAX_DIMS) {
        throw errors.corruptFrame(this.name, this.seq, 'truncated frame');
      }
      if (i32[q + 3] !== this.seq) throw errors.corruptFrame(this.name, this.seq, `out of sequence (got ${i32[q + 3]})`);
      const dtype = dtypeNames[i32[q + 5]!];
      if (!dtype) throw errors.corruptFrame(this.name, this.seq, `unknown dtype code ${i32[q + 5]}`);
      const shape: number[] = [];
      for (let d = 0; d < ndim; d++) shape.push(i32[q + 8 + d]!);
      this.seq++;
      return {
        kind: i32[q + 2]!, seq: i32[q + 3]!, tag: i32[q + 4]!, dtype, shape, aux: i32[q + 14]!,
        bytes: new Uint8Array(this.sab, CONTROL_BYTES + pos + HEADER_BYTES, payloadBytes), frameBytes,
      };
    }
  }

  /** Spins up to `budget` checks for the writer to publish a frame. */
  private spinForFrame(budget: number): boolean {
    for (let i = 0; i < budget; i++) if (Atomics.load(this.ctl, WRITE) !== this.r) return true;
    return false;
  }

  /** Frees a frame's space for the writer; its view must not be used afterwards. */
  release(frame: Frame): void {
    this.r = (this.r + frame.frameBytes) | 0;
    Atomics.store(this.ctl, READ, this.r);
    if (Atomics.load(this.ctl, WRITER_WAITING)) Atomics.notify(this.ctl, READ, 1);
  }

  /** Awaits the next frame without blocking the thread. `signal` ends the wait with null. */
  read(signal?: { stopped: boolean }): Promise<Frame | null> {
    const f = this.tryRead();
    return f ? Promise.resolve(f) : this.readWhenReady(signal);
  }

  private async readWhenReady(signal?: { stopped: boolean }): Promise<Frame | null> {
    for (;;) {
      const f = this.tryRead();
      if (f) return f;
      if (signal?.stopped) return null;
      this.emptyWaits++;
      if (this.spinForFrame(Math.min(this.spin, spinIterations * MAX_SPIN_FACTOR))) continue;
      Atomics.store(this.ctl, READER_WAITING, 1);
      if (Atomics.load(this.ctl, WRITE) === this.r) {
        const res = Atomics.waitAsync(this.ctl, WRITE, this.r, 200);
        if (res.async) {
          const t0 = performance.now();
          const woken = (await res.value) === 'ok';
          if (!woken) this.timeouts++;
          this.spin = nextSpin(this.spin, performance.now() - t0, woken);
        }
      }
      Atomics.store(this.ctl, READER_WAITING, 0);
    }
  }

  /** Blocking read (Atomics.wait); never on a thread whose event loop must stay responsive. */
  readSync(): Frame {
    for (;;) {
      const f = this.tryRead();
      if (f) return f;
      this.emptyWaits++;
      Atomics.store(this.ctl, READER_WAITING, 1);
      if (Atomics.load(this.ctl, WRITE) === this.r) Atomics.wait(this.ctl, WRITE, this.r, 1000);
      Atomics.store(this.ctl, READER_WAITING, 0);
    }
  }
}
