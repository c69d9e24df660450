// The ring alone: one producer thread, one consumer thread, 64 KiB frames, non-blocking (device)
// waits against blocking waits, interleaved. Timed over the last 40 000 of 120 000 frames: the ring's
// hot path runs several times slower until the JIT has optimized it (bench/channels-worker.ts).
// Prints one JSON line per mode (median GB/s).
// Usage: npx tsx bench/ring.ts
import { startThread } from '../src/runtime/thread.js';
import { median, round } from './harness.js';

const url = new URL('./ring-worker.ts', import.meta.url);
const floats = 16384, n = 120_000, skip = 80_000;
const samples: Record<string, number[]> = { async: [], sync: [] };
for (let rep = 0; rep < 3; rep++) {
  for (const mode of ['async', 'sync'] as const) {
    const sab = new SharedArrayBuffer(256 + (1 << 20));
    const start = (role: string) => startThread(url, { workerData: { sab, role, mode, n, floats, skip } });
    const consumer = start('consumer'), producer = start('producer');
    const next = <T>(w: ReturnType<typeof startThread>) => new Promise<T>((r) => w.once('message', r));
    await Promise.all([next(consumer), next(producer)]);
    const done = Promise.all([next<{ start: number; end: number }>(consumer), next(producer)]);
    consumer.postMessage('go');
    producer.postMessage('go');
    const [c] = await done;
    samples[mode]!.push((floats * 4 * (n - skip)) / ((c.end - c.start) / 1000) / 1e9);
    await Promise.all([consumer.terminate(), producer.terminate()]);
  }
}
for (const mode of ['async', 'sync']) process.stdout.write(`${JSON.stringify({ bench: 'ring', bytes: floats * 4, mode, gbps: round(median(samples[mode]!)) })}\n`);
