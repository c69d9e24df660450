// The ceiling under the channel ring: how fast V8 copies a typed array into a SharedArrayBuffer
// (relaxed atomic word copies) against the same copy into an ordinary ArrayBuffer, one thread,
// hot cache, interleaved rounds. Usage: npx tsx bench/sab-copy.ts
import { median, round } from './harness.js';

for (const bytes of [64 << 10, 1 << 20]) {
  const src = new Uint8Array(bytes).fill(1);
  const plain = new Uint8Array(new ArrayBuffer(bytes)), shared = new Uint8Array(new SharedArrayBuffer(bytes));
  const reps = Math.max(200, Math.floor((512 << 20) / bytes));
  const gbps = (dst: Uint8Array) => {
    for (let i = 0; i < 50; i++) dst.set(src);
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) dst.set(src);
    return (bytes * reps) / ((performance.now() - t0) / 1000) / 1e9;
  };
  const a: number[] = [], s: number[] = [];
  for (let round = 0; round < 7; round++) {
    a.push(gbps(plain));
    s.push(gbps(shared));
  }
  process.stdout.write(`${JSON.stringify({ bench: 'sab-copy', bytes, arrayBufferGbps: round(median(a)), sharedArrayBufferGbps: round(median(s)), sharedOverPlain: round(median(s) / median(a)) })}\n`);
}
