import { Packr } from 'msgpackr';

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
