// Device-to-device tensor transport: the SAB ring against postMessage (clone), transfer and memcpy,
// measured worker → worker in the same run; then all-reduce of 4 MiB across 2 devices against memcpy.
// Usage: npx tsx bench/channels.ts [--quick]
import { MessageChannel } from 'node:worker_threads';
import { DEVICE_RING_BYTES, ringBytes } from '../src/runtime/ring.js';
import { startThread } from '../src/runtime/thread.js';
import { ActorSystem } from '../src/runtime/system.js';
import { median, round } from './harness.js';

const quick = process.argv.includes('--quick');
const reps = quick ? 3 : 7;
const workerUrl = new URL('./channels-worker.ts', import.meta.url);
// SIZES=none skips the ring transports and runs only the all-reduce.
const sizes = process.env.SIZES === 'none' ? [] : process.env.SIZES ? process.env.SIZES.split(',').map(Number) : [4 << 10, 64 << 10, 1 << 20];

/** Every transport moves frames untimed for this long first (channels-worker.ts says why). */
const WARM_MS = Number(process.env.WARM_MS ?? 3000);

function runPair(method: 'ring' | 'postMessage' | 'transfer', mode: 'throughput' | 'rtt', bytes: number, count: number) {
  const floats = bytes / 4;
  const stop = new SharedArrayBuffer(4);
  const common = { method, mode, floats, count, warmMs: WARM_MS, stop };
  let a: object, b: object, transfer: [] | [MessageChannel['port1']] = [], transferB: [] | [MessageChannel['port2']] = [];
  if (method === 'ring') {
    // The ring the devices use (ActorSystem's default, DEVICE_RING_BYTES).
    const data = new SharedArrayBuffer(DEVICE_RING_BYTES), back = new SharedArrayBuffer(ringBytes(64, 8));
    // Touched once, as a running device's rings are: a first-touch page fault per 4 KiB is slow on this VM kind.
    new Uint8Array(data).fill(0);
    a = { ...common, role: 'producer', data, back };
    b = { ...common, role: 'consumer', data, back };
  } else {
    const ch = new MessageChannel();
    a = { ...common, role: 'producer', port: ch.port1 };
    b = { ...common, role: 'consumer', port: ch.port2 };
    transfer = [ch.port1];
    transferB = [ch.port2];
  }
  const next = <T>(w: ReturnType<typeof startThread>) =>
    new Promise<T>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  const consumer = startThread(workerUrl, { workerData: b, transferList: transferB as never });
  const producer = startThread(workerUrl, { workerData: a, transferList: transfer as never });
  type Result = { start?: number; end?: number; frames?: number; rtts?: number[] };
  return Promise.all([next(producer), next(consumer)]).then(async () => {
    // The timing side answers (the consumer for throughput, the producer for round trips); the
    // other may be waiting on it and is stopped with it.
    const result = next<Result>(mode === 'rtt' ? producer : consumer);
    consumer.postMessage('go');
    producer.postMessage('go');
    return result;
  }).then(async (r) => {
    await Promise.all([producer.terminate(), consumer.terminate()]);
    return { gbps: r.frames ? (bytes * r.frames) / ((r.end! - r.start!) / 1000) / 1e9 : NaN, rttUs: r.rtts && r.rtts.length ? median(r.rtts) : NaN };
  });
}

function memcpyGbps(bytes: number): number {
  const src = new Float32Array(bytes / 4).fill(1), dst = new Float32Array(bytes / 4);
  const n = Math.max(50, Math.floor((256 << 20) / bytes));
  for (let i = 0; i < 10; i++) dst.set(src);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) dst.set(src);
  return (bytes * n) / ((performance.now() - t0) / 1000) / 1e9;
}

for (const bytes of sizes) {
  const mib = Number(process.env.MIB ?? (quick ? 128 : 512));
  const count = Math.max(1000, Math.min(40_000, Math.floor((mib * (1 << 20)) / bytes)));  // frames timed, after the warm-up
  const rttCount = bytes >= 1 << 20 ? 200 : 1000;
  const samples: Record<string, { gbps: number[]; rtt: number[] }> = { ring: { gbps: [], rtt: [] }, postMessage: { gbps: [], rtt: [] }, transfer: { gbps: [], rtt: [] }, memcpy: { gbps: [], rtt: [] } };
  for (let rep = 0; rep < reps; rep++) {
    // Interleaved: every method once per repetition, so noise hits them alike.
    for (const method of ['ring', 'postMessage', 'transfer'] as const) {
      samples[method]!.gbps.push((await runPair(method, 'throughput', bytes, count)).gbps);
      if (process.env.VERBOSE) process.stderr.write(`${method} ${bytes}: ${samples[method]!.gbps.at(-1)!.toFixed(2)} GB/s\n`);
      if (method !== 'transfer') samples[method]!.rtt.push((await runPair(method, 'rtt', bytes, rttCount)).rttUs);
    }
    samples.memcpy!.gbps.push(memcpyGbps(bytes));
  }
  const m = (k: string, f: 'gbps' | 'rtt') => median(samples[k]![f]);
  const line = {
    bench: 'channels', bytes,
    ring: { gbps: round(m('ring', 'gbps')), rttUs: round(m('ring', 'rtt')) },
    postMessage: { gbps: round(m('postMessage', 'gbps')), rttUs: round(m('postMessage', 'rtt')) },
    transfer: { gbps: round(m('transfer', 'gbps')) },
    memcpy: { gbps: round(m('memcpy', 'gbps')) },
    ringOverPostMessage: round(m('ring', 'gbps') / m('postMessage', 'gbps')),
    ringOverMemcpy: round(m('ring', 'gbps') / m('memcpy', 'gbps')),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

// All-reduce of 4 MiB across 2 devices (actors on device threads), against copying 4 MiB once, in
// the same run: over shared memory (a tensor of its own; and one staged in the shared region, as the
// gradient sync does) and over the channels (the rings), paths interleaved so noise hits them alike.
// Beside memcpy, a floor measured the same way: both devices at once copying what a bandwidth-optimal
// all-reduce must bring across cores (the peer's freshly written 4 MiB), `crossCoreMs`.
const system = await ActorSystem.start({ devices: 2, modules: [new URL('../src/sched/allreduce-probe.ts', import.meta.url)] });
try {
  const actors = await Promise.all([0, 1].map((d) => system.spawn('AllReduceProbe', {}, { device: d })));
  const bytes = 4 << 20, iterations = quick ? 10 : 20;
  const paths = ['shared', 'staged', 'channels', 'crosscore'] as const;
  const times: Record<string, number[]> = { shared: [], staged: [], channels: [], crosscore: [], memcpy: [] };
  for (let rep = 0; rep < reps; rep++) {
    for (const path of paths) {
      const perOp = await Promise.all(actors.map((a) => system.ask<number[]>(a, { floats: bytes / 4, iterations, path }, { timeoutMs: 120_000 })));
      times[path]!.push(...perOp[0]!.slice(2));
    }
    times.memcpy!.push((bytes / memcpyGbps(bytes) / 1e9) * 1000);
  }
  const memcpyMs = median(times.memcpy!);
  const crossMs = median(times.crosscore!);
  const line: Record<string, unknown> = { bench: 'allreduce', bytes, devices: 2, memcpyMs: round(memcpyMs), crossCoreMs: round(crossMs) };
  for (const path of paths.filter((p) => p !== 'crosscore')) {
    const ms = median(times[path]!);
    line[path] = { ms: round(ms), gbps: round(bytes / (ms / 1000) / 1e9), timesMemcpy: round(ms / memcpyMs), timesCrossCore: round(ms / crossMs) };
  }
  line.crossCoreOverMemcpy = round(crossMs / memcpyMs);
  process.stdout.write(`${JSON.stringify(line)}\n`);
} finally {
  await system.stop();
}
