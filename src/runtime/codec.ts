import { Packr } from 'msgpackr';
import { errors } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Control-plane encoding: msgpackr with typed arrays kept as typed arrays (`moreTypes`) and no
 * record structures (independent messages pack faster without them). Encoded messages are copied
 * into an exact-size buffer before they are transferred: msgpackr's output is a view into a larger
 * buffer that structured clone would copy whole.
 */
const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false });

export function encode(message: unknown): Uint8Array {
  return new Uint8Array(packr.pack(message));
}

export function decode<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

/** What travels over postMessage: the encoded message plus SharedArrayBuffers (shared, never encoded). */
export interface Envelope {
  bytes: Uint8Array;
  shared?: SharedArrayBuffer[];
}

export function envelope(message: unknown, shared?: SharedArrayBuffer[]): { env: Envelope; transfer: ArrayBuffer[] } {
  const bytes = encode(message);
  return { env: shared ? { bytes, shared } : { bytes }, transfer: [bytes.buffer as ArrayBuffer] };
}

/**
 * An actor's state as a channel tensor (i32 words: the byte length, then the msgpack bytes), so a
 * clone or migration moves device to device over the SharedArrayBuffer rings, not through this
 * process's main thread.
 */
export function packState(state: unknown): Tensor<'i32'> {
  const bytes = encode(state);
  const t = new Tensor('i32', [1 + Math.ceil(bytes.byteLength / 4)], new Int32Array(1 + Math.ceil(bytes.byteLength / 4)));
  t.data[0] = bytes.byteLength;
  new Uint8Array(t.data.buffer, t.data.byteOffset + 4, bytes.byteLength).set(bytes);
  return t;
}

export function unpackState<T>(t: Tensor, what: string): T {
  const n = t.data[0]!;
  if (t.dtype !== 'i32' || !(n >= 0) || n > (t.size - 1) * 4) throw errors.corruptFrame(what, 0, `state of ${n} bytes in a ${t.dtype} tensor of ${t.size} words`);
  return decode<T>(new Uint8Array(t.data.buffer, t.data.byteOffset + 4, n));
}
