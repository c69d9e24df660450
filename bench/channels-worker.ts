// One end of a channel benchmark: a producer or consumer for one transport. Started by bench/channels.ts.
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { RingReader, RingWriter } from '../src/runtime/ring.js';

interface Job {
  role: 'producer' | 'consumer';
  method: 'ring' | 'postMessage' | 'transfer';
  mode: 'throughput' | 'rtt';
  floats: number;
  /** Frames timed (throughput) or round trips kept (rtt), after the warm-up. */
  count: number;
  /**
   * Frames move untimed first (at most this long; see Timer). A device runs for minutes; a fresh
   * thread's ring code runs several times slower until the JIT has optimized it: timed from the
   * start, this bench measured that warm-up (64 KiB frames: 1.7 GB/s over the first 4000 frames,
   * 37 GB/s once warm), and postMessage's warm-up too.
   */
  warmMs: number;
  /** Int32 flag the timing side raises when it has its numbers; the other side then stops sending. */
  stop: SharedArrayBuffer;
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

/**
 * Counts frames through the warm-up, then times at least `count` of them over at least `minMs`.
 * The warm-up ends after `WARM_FRAMES` frames or `warmMs`, whichever comes first: the ring's hot
 * path is optimized in two stages here (64 KiB frames: ~4 GB/s for the first ~8000 frames, ~23 GB/s
 * up to ~40 000, then 37–40 GB/s), by call count; large frames reach the time limit first.
 */
const WARM_FRAMES = Number(process.env.WARM_FRAMES ?? 200_000);
const MIN_MS = 250;
/** The clock is read every this many frames (and at each phase's edge): a read per frame costs ~5% at 64 KiB. */
const EVERY = 64;
class Timer {
  private started = 0;
  private first = 0;
  private seen = 0;
  private n = 0;
  constructor(private readonly warmMs: number, private readonly count: number) {}
  /** Call per frame (or round trip); true once the timed part is complete. */
  tick(): boolean {
    if (!this.first) {
      const s = this.seen++;
      if (s === 0) this.started = clock();
      else if (s % EVERY !== 0 && s < WARM_FRAMES) return false;
      if (s < WARM_FRAMES && clock() - this.started < this.warmMs) return false;
      this.first = clock();
      return false;
    }
    return ++this.n >= this.count && this.n % EVERY === 0 && clock() - this.first >= MIN_MS;
  }
  get start(): number {
    return this.first;
  }
  /** Frames (or round trips) timed so far. */
  get timed(): number {
    return this.n;
  }
}

/** Throughput is timed on the consumer (thread scheduling skew excluded); round trips on the producer. */
async function run(job: Job): Promise<{ start?: number; end?: number; frames?: number; rtts?: number[] }> {
  const { floats, count } = job;
  const stop = new Int32Array(job.stop);
  const stopped = () => Atomics.load(stop, 0) !== 0;
  const done = () => Atomics.store(stop, 0, 1);
  if (job.method === 'ring') {
    if (job.role === 'producer') {
      const w = new RingWriter(job.data!, 'bench'), back = new RingReader(job.back!, 'bench-back');
      const src = new Float32Array(floats).fill(1);
      const frame = { kind: 0, tag: 0, dtype: 'f32' as const, shape: [floats], payload: src };
      const rtts: number[] = [], timer = new Timer(job.warmMs, count);
      while (!stopped()) {
        if (job.mode !== 'rtt') {
          await w.write(frame);
          continue;
        }
        const t0 = clock();
        await w.write(frame);
        const ack = (await back.read())!;
        back.release(ack);
        if (timer.start) rtts.push((clock() - t0) * 1000);
        if (timer.tick()) done();
      }
      return { rtts };
    }
    const r = new RingReader(job.data!, 'bench'), back = new RingWriter(job.back!, 'bench-back');
    const ack = { kind: 1, tag: 0, dtype: 'u8' as const, shape: [0], payload: new Uint8Array(0) };
    const timer = new Timer(job.warmMs, count);
    // Round trips: the producer times them and ends the run; this side stops reading when it does.
    const signal = job.mode === 'rtt' ? { get stopped() { return stopped(); } } : undefined;
    let sink = 0;
    for (;;) {
      const f = await r.read(signal);
      if (!f) return {};
      sink += touch(new Float32Array(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength / 4)); // zero-copy view
      r.release(f);
      if (job.mode === 'rtt') {
        await back.write(ack);
        continue;
      }
      if (timer.tick()) {
        done();
        return { start: timer.start, end: clock() + sink * 0, frames: timer.timed };
      }
    }
  }
  // postMessage (structured clone) and transfer (fresh buffer each time, moved).
  const port = job.port!;
  if (job.role === 'producer') {
    const src = new Float32Array(floats).fill(1);
    let credits = WINDOW;
    let wake: (() => void) | null = null;
    const rtts: number[] = [], timer = new Timer(job.warmMs, count);
    port.on('message', () => {
      credits++;
      wake?.();
    });
    // Polled between sends, so a consumer that has its numbers ends the run even while credits are out.
    const poll = setInterval(() => stopped() && wake?.(), 5);
    while (!stopped()) {
      while (credits === 0 && !stopped()) await new Promise<void>((r) => (wake = r));
      if (stopped()) break;
      credits--;
      const t0 = clock();
      if (job.method === 'transfer') {
        const fresh = new Float32Array(floats);
        fresh.set(src);
        port.postMessage(fresh, [fresh.buffer]);
      } else port.postMessage(src);
      if (job.mode === 'rtt') {
        while (credits < WINDOW && !stopped()) await new Promise<void>((r) => (wake = r));
        if (timer.start) rtts.push((clock() - t0) * 1000);
        if (timer.tick()) done();
      }
    }
    clearInterval(poll);
    port.close();
    return { rtts };
  }
  return new Promise((resolve) => {
    const timer = new Timer(job.warmMs, count);
    let sink = 0, finished = false;
    port.on('message', (v: Float32Array) => {
      sink += touch(v);
      port.postMessage(0);
      if (finished || job.mode === 'rtt') return;
      if (timer.tick()) {
        finished = true;
        done();
        resolve({ start: timer.start, end: clock() + sink * 0, frames: timer.timed });
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
