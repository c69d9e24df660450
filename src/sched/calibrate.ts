import { createBackend, defaultBackendName, type Backend } from '../kernels/backend.js';
import { Tape } from '../autograd/tape.js';
import { ExpertRunner } from '../moe/expert-runner.js';
import { FFNExpert } from '../moe/experts.js';
import { Rng } from '../nn/random.js';
import { ActorSystem } from '../runtime/system.js';
import { siblingModule, startThread } from '../runtime/thread.js';
import { ringBytes } from '../runtime/ring.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { CostProfile } from './cost.js';
import { median } from '../stats.js';
import { errors } from '../errors.js';
import type { HostsOptions } from '../hosts/cluster.js';

/** Calibration warm-up: this many expert steps, or this long, whichever ends first. */
const WARM_CALLS = 200;
const WARM_MS = 2000;

/**
 * Measures this machine's cost-model constants: an expert FFN's cost per row and per call on the
 * default backend at the model's shapes (`expertStepCost`), device-to-device channel bandwidth (a ring between two threads), and what an
 * expert-sized gradient all-reduce between two devices achieves through the collectives. All
 * devices are threads of one process, so they form one "node".
 */
export async function calibrate(opts: { dModel: number; dFF: number; devices: number; backend?: string; tokens?: number; /** Measure the gradient all-reduce (default true; serving has none). */ allReduce?: boolean; /** Devices on hosts (docs/hosts.md): a host is a node, and the link between two is measured. */ hosts?: HostsOptions }): Promise<CostProfile> {
  const { dModel: d, dFF: f, devices } = opts;
  const T = opts.tokens ?? 256;
  const be = await createBackend(opts.backend ?? (await defaultBackendName())); // the backend the devices will run
  let expert: { msPerRow: number; callMs: number };
  try {
    expert = await expertStepCost(be, d, f, T);
  } finally {
    be.dispose();
  }
  const tflops = (12 * d * f) / (expert.msPerRow * 1e9);
  // The ring's rate swings several-fold from run to run on a shared machine (1.2–6.6 GB/s in
  // consecutive calibrations): the median of three.
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) rates.push(await ringGBps());
  const gbps = median(rates);
  // Gradients all-reduce in buckets (grad-sync.ts), so a replica on every device adds bytes to a
  // collective that runs anyway: price its bandwidth, measured on a bucket-sized vector. A collective
  // a placement adds (a bucket of its own, a shadow group) costs a lone call's time: collectiveMs.
  const { allReduceGBps, collectiveMs } = await measureAllReduce(Math.max(2 * d * f, 1 << 20), opts.allReduce !== false);
  const between = opts.hosts ? await measureHosts(opts.hosts, Math.max(2 * d * f, 1 << 20)) : null;
  return {
    name: between ? `${opts.hosts!.hosts}-hosts` : 'this-machine',
    devicesPerNode: between?.devicesPerNode ?? devices,
    intraNodeGBps: gbps,
    interNodeGBps: between?.gbps || gbps,
    expertTflops: tflops,
    expertCallMs: expert.callMs,
    denseTflops: tflops,
    dModel: d,
    dFF: f,
    bytesPerValue: 4,
    denseFlopsPerToken: 24 * d * d,
    stateBytesFactor: 3,
    training: true,
    ...(allReduceGBps === undefined ? {} : { allReduceGBps }),
    collectiveMs,
  };
}

/**
 * What one expert's training step (forward, backward, its weight gradients summed into its
 * parameters') costs on `be`, per row and per call: the default FFN expert run as a device runs it
 * (ExpertRunner), timed at `rows` and at a sixteenth of them, alternating, medians; the line through
 * both. The call's fixed part (weights packed for the products, the weight gradients made and
 * summed) is what a replica's extra buffer costs, and the cost model prices it per buffer
 * (`expertCallMs`). Measured in one thread, it is far steadier than a fit through runs of the whole model.
 */
export async function expertStepCost(be: Backend, d: number, f: number, rows = 256): Promise<{ msPerRow: number; callMs: number }> {
  const runner = new ExpertRunner(be, new FFNExpert(be, { name: 'calibration', dModel: d, dFF: f, rng: new Rng(1) }));
  rows = Math.max(rows, 32); // two sizes at least 16× apart: a line, not a division by nothing
  const few = rows >> 4;
  const input = (n: number) => Tensor.from(Float32Array.from({ length: n * d }, (_, i) => Math.sin(i) * 0.1), [n, d]) as F32;
  const xs = { few: input(few), many: input(rows) };
  let pass = 0;
  const step = async (x: F32) => {
    const p = pass++;
    let y: F32 | undefined;
    await new Tape(be).run(async () => void (y = await runner.forward(x, p)));
    await runner.backward(y!, p);
  };
  // Warm up as long as a device does in its first steps: the kernels' operand-packing loops run
  // about three times slower until the JIT optimizes them, after ~100 calls at small shapes
  // (256 × 64 × 128: 2.1 ms per step, then 0.7 ms). Timed after one call, as this once did, the
  // profile priced expert compute 3× too high and the planner moved experts that did not pay.
  const warmUntil = performance.now() + WARM_MS;
  for (let i = 0; i < WARM_CALLS && performance.now() < warmUntil; i++) await step(i % 2 ? xs.few : xs.many);
  const times = { few: [] as number[], many: [] as number[] };
  for (let i = 0; i < 15; i++) {
    for (const k of ['few', 'many'] as const) {
      const t0 = performance.now();
      await step(xs[k]);
      times[k].push(performance.now() - t0);
    }
  }
  const tFew = median(times.few), tMany = median(times.many);
  // A slow spell during the small calls can flatten the slope, or turn it: the rows' cost is kept
  // to at least a quarter of the large call's time per row.
  const msPerRow = Math.max((tMany - tFew) / (rows - few), tMany / rows / 4);
  return { msPerRow, callMs: Math.max(0, tFew - few * msPerRow) };
}

/**
 * GB/s of gradient an all-reduce of `floats` between two devices achieves through the runtime's
 * collectives (median of a few; when `bandwidth`), where a ring all-reduce of two moves each byte
 * once; and the fixed cost of a collective, `collectiveMs`: a lone all-reduce of 16 floats, whose
 * bytes are nothing (median of 50 after 10).
 */
async function measureAllReduce(floats: number, bandwidth: boolean, iterations = 9): Promise<{ allReduceGBps?: number; collectiveMs: number }> {
  const system = await ActorSystem.start({ devices: 2, modules: [siblingModule('./allreduce-probe', import.meta.url)] });
  try {
    const probes = await Promise.all([0, 1].map((d) => system.spawn('AllReduceProbe', {}, { device: d })));
    const timed = async (n: number, count: number, skip: number) => median((await Promise.all(probes.map((p) => system.ask<number[]>(p, { floats: n, iterations: count }))))[0]!.slice(skip));
    const collectiveMs = await timed(16, 60, 10);
    if (!bandwidth) return { collectiveMs };
    return { allReduceGBps: (floats * 4) / ((await timed(floats, iterations, 2)) * 1e6), collectiveMs };
  } finally {
    await system.stop();
  }
}

/**
 * The link between hosts: GB/s of gradient an all-reduce of `floats` achieves between a device of
 * the first host and one of the second (over NATS), and the devices per host (a host is a node).
 */
async function measureHosts(hosts: HostsOptions, floats: number, iterations = 9): Promise<{ gbps: number; devicesPerNode: number }> {
  const system = await ActorSystem.start({ hosts, modules: [siblingModule('./allreduce-probe', import.meta.url)] });
  try {
    const held = system.cluster!.hosts;
    const perHost = held.map((h) => h.devices.length);
    if (perHost.some((n) => n !== perHost[0])) throw errors.badArgument('calibrate', `the cost model wants hosts of one size; these offer ${perHost.join(', ')} devices`);
    if (held.length < 2) return { gbps: 0, devicesPerNode: perHost[0]! };
    const pair = [held[0]!.devices[0]!, held[1]!.devices[0]!];
    const probes = await Promise.all(pair.map((d) => system.spawn('AllReduceProbe', {}, { device: d })));
    const times = (await Promise.all(probes.map((p) => system.ask<number[]>(p, { floats, iterations, group: pair }, { timeoutMs: 120_000 }))))[0]!.slice(2).sort((a, b) => a - b);
    return { gbps: (floats * 4) / (times[times.length >> 1]! * 1e6), devicesPerNode: perHost[0]! };
  } finally {
    await system.stop();
  }
}

async function ringGBps(floats = 16384, frames = 800): Promise<number> {
  const sab = new SharedArrayBuffer(ringBytes(floats * 4, 8));
  new Uint8Array(sab).fill(0); // touched once, as a running device's rings are (first-touch page faults are slow here)
  const url = siblingModule('./calibrate-worker', import.meta.url);
  const consumer = startThread(url, { workerData: { sab, role: 'consumer', frames, floats } });
  const producer = startThread(url, { workerData: { sab, role: 'producer', frames, floats } });
  try {
    const msPerFrame = await new Promise<number>((resolve, reject) => {
      consumer.once('message', resolve);
      consumer.once('error', reject);
      producer.once('error', reject);
    });
    return (floats * 4) / (msPerFrame * 1e6);
  } finally {
    await Promise.all([consumer.terminate(), producer.terminate()]);
  }
}
