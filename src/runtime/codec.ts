import { Packr } from 'msgpackr';
import { errors } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { ReduceShared } from './shared-reduce.js';

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
  /** With `init`: the memory and signal table of the shared-memory all-reduce (shared-reduce.ts). */
  reduce?: ReduceShared;
}

export function envelope(message: unknown, shared?: SharedArrayBuffer[], reduce?: ReduceShared): { env: Envelope; transfer: ArrayBuffer[] } {
  const bytes = encode(message);
  const env: Envelope = { bytes };
  if (shared) env.shared = shared;
  if (reduce) env.reduce = reduce;
  return { env, transfer: [bytes.buffer as ArrayBuffer] };
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

type Shippable = Float32Array | Int32Array | Float64Array;
const SHIPPED = '\u0000flexmoe.array';
/** Typed arrays this long or longer travel as channel tensors of their own; shorter ones stay in the skeleton. */
const SHIP_MIN = 256;

/**
 * Splits an actor's state into a skeleton (small, msgpack) and its large typed arrays, so a clone
 * or migration sends the arrays as tensors over the channel (one copy in, one copy out) instead of
 * encoding them into the message. `joinState` puts them back.
 */
export function splitState(state: unknown): { skeleton: unknown; arrays: Shippable[] } {
  const arrays: Shippable[] = [];
  const walk = (v: unknown): unknown => {
    if ((v instanceof Float32Array || v instanceof Int32Array || v instanceof Float64Array) && v.length >= SHIP_MIN) {
      arrays.push(v);
      return { [SHIPPED]: arrays.length - 1 };
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return { skeleton: walk(state), arrays };
}

export function joinState(skeleton: unknown, arrays: ArrayBufferView[]): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const o = v as Record<string, unknown>;
      if (SHIPPED in o) return arrays[o[SHIPPED] as number];
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(skeleton);
}

/** A shippable array as a channel tensor (a view: no copy). */
export function arrayTensor(a: Shippable): Tensor {
  const dtype = a instanceof Float32Array ? 'f32' : a instanceof Int32Array ? 'i32' : 'f64';
  return new Tensor(dtype, [a.length], a as never);
}
