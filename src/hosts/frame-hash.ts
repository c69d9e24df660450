// The payload checksum of frames between hosts: the SIMD kernel's `frameHash` (kernels/wasm/simd/
// hash.ts) on a memory of its own, and the same function in plain TypeScript where WebAssembly SIMD
// is missing or a payload is larger than that memory. Both ends of a link must agree to the bit:
// test/frame-hash.test.ts checks the two against each other.
import { simdModule, Wasm, WASM_PAGE as PAGE, type WasmMemory } from '../kernels/wasm/globals.js';
import { copyBytes } from '../runtime/copy.js';

/** The memory's limit: payloads above it (NATS allows up to 64 MiB) are hashed in TypeScript. */
const MAX_PAGES = 1024 + 2;
const PRIME = 0x01000193;
/** The lanes' starting values, as the kernel's. */
const SEEDS = [
  0x811c9dc5, 0x050c5d1f, 0x2c4c1cd3, 0x6b8b4567, 0x327b23c6, 0x643c9869, 0x66334873, 0x74b0dc51,
  0x19495cff, 0x2ae8944a, 0x625558ec, 0x238e1f29, 0x46e87ccd, 0x3d1b58ba, 0x507ed7ab, 0x2eb141f2,
].map((s) => s | 0);

let kernel: { hash: (p: number, n: number) => number; memory: WasmMemory; base: number; bytes: Uint8Array } | null | undefined;

function load(): typeof kernel {
  try {
    const memory = new Wasm.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
    const instance = new Wasm.Instance(simdModule(), { env: { memory } });
    const base = (instance.exports.heapBase as () => number)();
    return { hash: instance.exports.frameHash as (p: number, n: number) => number, memory, base, bytes: new Uint8Array(memory.buffer) };
  } catch {
    return null; // no WebAssembly SIMD or shared memory here
  }
}

/** The checksum of `n` bytes of `u8` from `at`. */
export function frameHash(u8: Uint8Array, at: number, n: number): number {
  kernel ??= load();
  const k = kernel;
  if (!k || k.base + n > MAX_PAGES * PAGE) return frameHashTs(u8, at, n);
  if (k.base + n > k.memory.buffer.byteLength) {
    k.memory.grow(Math.ceil((k.base + n - k.memory.buffer.byteLength) / PAGE));
    k.bytes = new Uint8Array(k.memory.buffer);
  }
  copyBytes(k.bytes, u8.subarray(at, at + n), k.base);
  return k.hash(k.base, n);
}

/** The same checksum in TypeScript (the reference, and the fallback). */
export function frameHashTs(u8: Uint8Array, at: number, n: number): number {
  const lanes = Int32Array.from(SEEDS);
  const dv = new DataView(u8.buffer, u8.byteOffset + at, n);
  const blocks = n & ~63;
  for (let o = 0; o < blocks; o += 64) for (let l = 0; l < 16; l++) lanes[l] = Math.imul(lanes[l]! ^ dv.getInt32(o + 4 * l, true), PRIME);
  let h = SEEDS[0]!;
  for (let l = 0; l < 16; l++) h = Math.imul(h ^ lanes[l]!, PRIME);
  let o = blocks;
  for (; o + 4 <= n; o += 4) h = Math.imul(h ^ dv.getInt32(o, true), PRIME);
  for (; o < n; o++) h = Math.imul(h ^ dv.getUint8(o), PRIME);
  return h | 0;
}
