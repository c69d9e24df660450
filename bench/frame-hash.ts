// The payload checksum of frames between hosts (src/hosts/frame-hash.ts: SIMD, 16 lanes, the copy
// into the kernel's memory included) against the serial FNV-1a over 32-bit words it replaced, on
// the same 1 MiB payload, interleaved. Prints one JSON line. Usage: npx tsx bench/frame-hash.ts
import { execSync } from 'node:child_process';
import { frameHash, frameHashTs } from '../src/hosts/frame-hash.js';
import { median, round } from './harness.js';

function serialFnv(u8: Uint8Array, at: number, n: number): number {
  let h = 0x811c9dc5;
  const w32 = new Int32Array(u8.buffer, u8.byteOffset + at, n >>> 2);
  for (let i = 0; i < w32.length; i++) h = Math.imul(h ^ w32[i]!, 0x01000193);
  return h | 0;
}

const bytes = 1 << 20, reps = 9, iterations = 100;
const buf = new Uint8Array(bytes).map((_, i) => (i * 131) & 255);
const paths = { simd: () => frameHash(buf, 0, bytes), typescript: () => frameHashTs(buf, 0, bytes), serialFnv: () => serialFnv(buf, 0, bytes) };
const ms: Record<string, number[]> = { simd: [], typescript: [], serialFnv: [] };
let sink = 0;
for (let r = 0; r < reps + 1; r++) {
  for (const [name, f] of Object.entries(paths)) {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) sink ^= f();
    if (r > 0) ms[name]!.push((performance.now() - t0) / iterations); // the first round warms up
  }
}
let cpu = '';
try {
  cpu = execSync("lscpu | sed -n 's/^Model name: *//p'").toString().trim();
} catch {}
const m = (k: string) => median(ms[k]!);
process.stdout.write(`${JSON.stringify({ bench: 'frame-hash', bytes, simdMs: round(m('simd')), typescriptMs: round(m('typescript')), serialFnvMs: round(m('serialFnv')), simdGBps: round(bytes / m('simd') / 1e6), serialOverSimd: round(m('serialFnv') / m('simd')), sink: sink & 1, cpu })}\n`);
