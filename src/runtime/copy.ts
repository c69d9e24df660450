import { Buffer } from 'node:buffer';
import { errors } from '../errors.js';

/**
 * Below this many bytes a plain `TypedArray#set` wins or ties: the two `Buffer` views and the
 * `fill` call cost ~250 ns here, about what `set` takes into shared memory for 4–8 KiB.
 */
const FILL_MIN_BYTES = 8192;

/**
 * Copies `src` into `dst` at byte offset `at`, fast where either side lives in a SharedArrayBuffer.
 *
 * V8 copies into and out of shared memory with relaxed atomic word moves, about a quarter to a
 * third of memcpy's speed on this machine; Node's `Buffer#fill` with a buffer value of the same
 * length is one plain memcpy in C++ (bench/sab-copy.ts at 64 KiB: `set` 25 GB/s into shared memory
 * against 94 GB/s into an ArrayBuffer; `fill`, views included, 72 GB/s). That is sound for our
 * channels: a ring frame's bytes are written before its header is published with `Atomics.store`
 * and read only after the reader has seen it, so no other thread touches them during the copy.
 */
export function copyBytes(dst: Uint8Array, src: Uint8Array, at = 0): void {
  if (dst.buffer instanceof SharedArrayBuffer || src.buffer instanceof SharedArrayBuffer) {
    copyInto(Buffer.from(dst.buffer, dst.byteOffset, dst.byteLength), src, at, 'copyBytes');
    return;
  }
  fits('copyBytes', src.byteLength, at, dst.byteLength);
  dst.set(src, at); // unshared: set is a plain memcpy already
}

/**
 * `copyBytes` into a Buffer view made once (a ring writer's whole data area), for a caller on a
 * hot path: one view of the source per call instead of three views per copy.
 */
export function copyIntoBuffer(dst: Buffer, src: ArrayBufferView, at: number): void {
  copyInto(dst, src, at, 'copyIntoBuffer');
}

function copyInto(dst: Buffer, src: ArrayBufferView, at: number, op: string): void {
  const n = src.byteLength;
  fits(op, n, at, dst.byteLength);
  if (n < FILL_MIN_BYTES || src.buffer === dst.buffer) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset, n), at); // small, or possibly overlapping (set handles overlap)
    return;
  }
  dst.fill(Buffer.from(src.buffer, src.byteOffset, n), at, at + n);
}

function fits(op: string, n: number, at: number, size: number): void {
  if (at < 0 || at + n > size) throw errors.badArgument(op, `${n} bytes at ${at} do not fit in ${size}`);
}
