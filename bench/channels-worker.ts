// One end of a channel benchmark: a producer or consumer for one transport. Started by bench/channels.ts.
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { RingReader, RingWriter } from '../src/runtime/ring.js';

interface Job {
  role: 'producer' | 'consumer';
  method: 'ring' | 'postMessage' | 'transfer';
  mode: 'throughput' | 'rtt';
  floats: number;
  count: number;
  data?: SharedArrayBuffer; // ring: producer → consumer
  back?: SharedArrayBuffer; // ring: consumer → producer (acks for rtt)
  port?: MessagePort;
}

const clock = () => performance.timeOrigin + performance.now();
const WINDOW = 16; // postMessage credit window, so neither side queues without bound

/** Reads one float per 4 KiB page so lazily mapped pages are paid for, as a real consumer would. */
function touch(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i += 1024) s += v[i]!;
  return s;
}

/** The first fifth of the frames warms up the JIT and caches; throughput is timed over the rest, on the consumer. */
export const skip = (count: number) => Math.floor(count / 5);

/** Throughput is timed on the consumer (thread scheduling skew excluded). */
async function run(job: Job): Promise<{ start?: number; end?: number; rtts?: number[] }> {
  const { floats, count } = job;
  if (job.method === 'ring') {
    if (job.role === 'producer') {
      const w = new RingWriter(job.data!, 'bench'), back = new RingReader(job.back!, 'bench-back');
      const src = new Float32Array(floats).fill(1);
      const frame = { kind: 0, tag: 0, dtype: 'f32' as const, shape: [floats], payload: src };
      const rtts: number[] = [];
      const start = clock();
      for (let i = 0; i < count; i++) {
        const t0 = clock();
        await w.write(frame);
        if (job.mode === 'rtt') {
          const ack = (await back.read())!;
          back.release(ack);
          rtts.push((clock() - t0) * 1000);
        }
      }
      return { start, rtts };
    }
    const r = new RingReader(job.data!, 'bench'), back = new RingWriter(job.back!, 'bench-back');
    const ack = { kind: 1, tag: 0, dtype: 'u8' as const, shape: [0], payload: new Uint8Array(0) };
    let sink = 0, first = 0;
    for (let i = 0; i < count; i++) {
      const f = (await r.read())!;
      if (i === skip(count)) first = clock();
      sink += touch(new Float32Array(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength / 4)); // zero-copy view
      r.release(f);
      if (job.mode === 'rtt') await back.write(ack);
    }
    return { start: first, end: clock() + sink * 0 };
  }
  // postMessage (structured clone) and transfer (fresh buffer each time, moved).
  const port = job.port!;
  if (job.role === 'producer') {
    const src = new Float32Array(floats).fill(1);
    let credits = WINDOW;
    let wake: (() => void) | null = null;
    const rtts: number[] = [];
    port.on('message', () => {
      credits++;
      wake?.();
    });
    const start = clock();
    for (let i = 0; i < count; i++) {
      while (credits === 0) await new Promise<void>((r) => (wake = r));
      credits--;
      const t0 = clock();
      if (job.method === 'transfer') {
        const fresh = new Float32Array(floats);
        fresh.set(src);
        port.postMessage(fresh, [fresh.buffer]);
      } else port.postMessage(src);
      if (job.mode === 'rtt') {
        while (credits < WINDOW) await new Promise<void>((r) => (wake = r));
        rtts.push((clock() - t0) * 1000);
      }
    }
    port.close();
    return { start, rtts };
  }
  return new Promise((resolve) => {
    let n = 0, sink = 0, first = 0;
    port.on('message', (v: Float32Array) => {
      if (n === skip(count)) first = clock();
      sink += touch(v);
      port.postMessage(0);
      if (++n === count) {
        port.close();
        resolve({ start: first, end: clock() + sink * 0 });
      }
    });
  });
}

const job = workerData as Job;
// Atomics.waitAsync alone does not keep a thread alive; this timer does, until the run ends.
const keepAlive = setInterval(() => undefined, 1000);
// Both ends report ready and start together, so thread start-up is never timed.
parentPort!.once('message', () =>
  run(job).then((r) => {
    clearInterval(keepAlive);
    parentPort!.postMessage(r);
  }),
);
parentPort!.postMessage('ready');
