// The frame format of a ring (src/runtime/ring.ts): header layout, dtypes, payload views.

export const HEADER_BYTES = 64;
export const MAX_DIMS = 6;

export const dtypeCodes = { f32: 0, i32: 1, f64: 2, u8: 3 } as const;
export type FrameDType = keyof typeof dtypeCodes;
export const dtypeNames = Object.keys(dtypeCodes) as FrameDType[];
const bytesPer: Record<FrameDType, number> = { f32: 4, i32: 4, f64: 8, u8: 1 };

export interface FrameInit {
  kind: number;
  tag: number;
  dtype: FrameDType;
  shape: readonly number[];
  /** The payload bytes (any typed array; copied into the ring once). */
  payload: ArrayBufferView;
  aux?: number;
}

export interface Frame {
  kind: number;
  seq: number;
  tag: number;
  dtype: FrameDType;
  shape: number[];
  aux: number;
  /** Zero-copy view of the payload inside the ring; valid only until `release(frame)`. */
  bytes: Uint8Array;
  frameBytes: number;
}

export const align64 = (n: number) => (n + 63) & ~63;

/** FNV-1a over header words 0..14 (word 15 holds it). */
export function checksum(i32: Int32Array, p: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 15; i++) h = Math.imul(h ^ i32[p + i]!, 0x01000193);
  return h | 0;
}

/** Typed view of a frame's payload (zero-copy while the frame is held). */
export function payloadView(f: Frame): Float32Array | Int32Array | Float64Array | Uint8Array {
  const { buffer, byteOffset, byteLength } = f.bytes;
  const n = byteLength / bytesPer[f.dtype];
  if (f.dtype === 'f32') return new Float32Array(buffer, byteOffset, n);
  if (f.dtype === 'i32') return new Int32Array(buffer, byteOffset, n);
  if (f.dtype === 'f64') return new Float64Array(buffer, byteOffset, n);
  return f.bytes;
}

/** One direction of a channel between two devices: a ring in shared memory (ring.ts) or a link between hosts (hosts/nats-link.ts). */
export interface FrameWriter {
  /** The largest payload one frame carries (channels split larger tensors into chunks). */
  readonly maxPayload: number;
  /** Writes a frame, waiting while the far end is behind (backpressure). */
  write(f: FrameInit): Promise<void>;
  /** Writes that had to wait for room. */
  readonly fullWaits: number;
  /** Bytes written but not yet taken by the far end. */
  readonly used: number;
}

export interface FrameReader {
  /** The next frame, in order, or null once `signal` is stopped. Throws on a corrupt or lost frame. */
  read(signal?: { stopped: boolean }): Promise<Frame | null>;
  /** Done with a frame: its view must not be used afterwards. */
  release(frame: Frame): void;
}
