// The ceiling under the channel ring: how fast a typed array is copied into a SharedArrayBuffer.
// V8's TypedArray#set copies into shared memory with relaxed atomic word moves; Node's Buffer#fill
// with a buffer value is one plain memcpy (what src/runtime/copy.ts uses from 8 KiB up). Both
// against the same copy into an ordinary ArrayBuffer; one thread, hot cache, interleaved rounds.
// Usage: npx tsx bench/sab-copy.ts
import { Buffer } from 'node:buffer';
import { median, round } from './harness.js';

for (const bytes of [64 << 10, 1 << 20]) {
  const src = new Uint8Array(bytes).fill(1);
  const plain = new Uint8Array(new ArrayBuffer(bytes)), shared = new Uint8Array(new SharedArrayBuffer(bytes));
  const reps = Math.max(200, Math.floor((512 << 20) / bytes));
  const gbps = (copy: () => void) => {
    for (let i = 0; i < 50; i++) copy();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) copy();
    return (bytes * reps) / ((performance.now() - t0) / 1000) / 1e9;
  };
  const a: number[] = [], s: number[] = [], f: number[] = [];
  for (let round = 0; round < 7; round++) {
    a.push(gbps(() => plain.set(src)));
    s.push(gbps(() => shared.set(src)));
    // As copyBytes does it: two Buffer views made per copy, then one fill.
    f.push(gbps(() => Buffer.from(shared.buffer, 0, bytes).fill(Buffer.from(src.buffer, 0, bytes))));
  }
  process.stdout.write(
    `${JSON.stringify({ bench: 'sab-copy', bytes, arrayBufferGbps: round(median(a)), sharedArrayBufferGbps: round(median(s)), sharedOverPlain: round(median(s) / median(a)), sharedByFillGbps: round(median(f)), fillOverPlain: round(median(f) / median(a)) })}\n`,
  );
}
