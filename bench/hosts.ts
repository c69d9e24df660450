// Frames between hosts: a NATS link (checked, acknowledged, flow-controlled frames through a
// nats-server on loopback) against a raw TCP socket on loopback, 1 MiB frames, the receiver on a
// thread of its own, the paths alternating in the same run; plain NATS messages (no link protocol)
// beside them show the client and server's own ceiling. Then tokens/s of the npm start model on 2
// hosts against 2 local devices. Prints one JSON line.
// Usage: npx tsx bench/hosts.ts [--mib N] [--rounds N] [--frames-only]   (needs Debian's nats-server)
import { Socket } from 'node:net';
import { execSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { trainDistributed } from '../src/train/distributed.js';
import { calibrate } from '../src/sched/calibrate.js';
import { startBroker } from '../src/hosts/broker.js';
import { connectNats } from '../src/hosts/connect.js';
import { NatsFrameWriter } from '../src/hosts/nats-link.js';
import { startThread } from '../src/runtime/thread.js';
import { median, round } from './harness.js';

const arg = (name: string, d: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : d);
const mib = arg('--mib', 256), rounds = arg('--rounds', 3);
const framesOnly = process.argv.includes('--frames-only');
const broker = await startBroker();
const prefix = 'bench';
const worker = startThread(new URL('./hosts-receiver.ts', import.meta.url), { workerData: { url: broker.url, prefix } });
const inbox: Record<string, unknown>[] = [];
let wake: (() => void) | null = null;
worker.on('message', (m) => (inbox.push(m), wake?.()));
const next = async (key: string) => {
  for (;;) {
    const i = inbox.findIndex((m) => key in m);
    if (i >= 0) return inbox.splice(i, 1)[0]!;
    await new Promise<void>((r) => (wake = r));
  }
};
const port = (await next('port')).port as number;
await next('ready');
const nc = await connectNats(broker.url, { name: 'bench sender' });
const writer = new NatsFrameWriter(nc, { prefix, from: 0, to: 1 });
const frame = writer.maxPayload; // the largest frame the server takes: 1 MiB less the header
const count = Math.ceil((mib << 20) / frame), total = count * frame;
const payload = new Float32Array(frame / 4).fill(1.5);

async function nats(): Promise<number> {
  const t0 = performance.now();
  worker.postMessage({ nats: total });
  for (let i = 0; i < count; i++) await writer.write({ kind: 0, tag: 1, dtype: 'f32', shape: [frame / 4], payload });
  await next('done');
  return (total / ((performance.now() - t0) / 1000)) / 1e9;
}

async function raw(): Promise<number> {
  const bytes = new Uint8Array(payload.buffer);
  worker.postMessage({ raw: total });
  await new Promise((r) => setTimeout(r, 20)); // the receiver has its target before the first byte
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    nc.publish(`${prefix}.raw`, bytes);
    if (i % 8 === 7) await nc.flush(); // bounded in flight, as the link's window bounds it
  }
  await next('done');
  return (total / ((performance.now() - t0) / 1000)) / 1e9;
}

async function tcp(): Promise<number> {
  const sock = new Socket();
  await new Promise<void>((r) => sock.connect(port, '127.0.0.1', r));
  const bytes = Buffer.from(payload.buffer);
  const head = Buffer.alloc(8);
  head.writeDoubleLE(total, 0);
  const t0 = performance.now();
  sock.write(head);
  for (let i = 0; i < count; i++) if (!sock.write(bytes)) await new Promise((r) => sock.once('drain', r));
  await next('done');
  const gbps = (total / ((performance.now() - t0) / 1000)) / 1e9;
  sock.destroy();
  return gbps;
}

const samples = { nats: [] as number[], raw: [] as number[], tcp: [] as number[] };
await nats(); // warm-up
await raw();
await tcp();
for (let r = 0; r < rounds; r++) {
  samples.nats.push(await nats());
  samples.raw.push(await raw());
  samples.tcp.push(await tcp());
}
const n = median(samples.nats), t = median(samples.tcp), w = median(samples.raw);
let cpu = '';
try {
  cpu = execSync("lscpu | sed -n 's/^Model name: *//p'").toString().trim();
} catch {}
process.stdout.write(`${JSON.stringify({ bench: 'hosts-frames', frameBytes: frame, mib, rounds, natsGBps: round(n), tcpGBps: round(t), natsOverTcp: round(n / t), natsRawGBps: round(w), linkOverRaw: round(n / w), natsSamples: samples.nats.map((x) => round(x)), tcpSamples: samples.tcp.map((x) => round(x)), resent: writer.resent, cpu })}\n`);
writer.close();
worker.postMessage({ stop: true });
await nc.close();

// Tokens/s of the npm start model (bench/train.ts's) on 2 hosts, one device each (host processes
// on this machine, frames over NATS), against 2 local devices; alternating, median step after warm-up.
if (framesOnly) {
  await broker.stop();
  process.exit(0);
}
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const hostProcs = ['a', 'b'].map((id) => spawn(process.execPath, ['--import', 'tsx', main, 'host', '--nats', broker.url, '--id', `bench-${id}`], { stdio: 'ignore' }));
try {
  const corpus = new CharCorpus(mobyDick());
  const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 32, dModel: 64, heads: 4, dFF: 128, layers: 2, seed: 1, moe: { experts: 4, topk: 2, auxCoef: 0.01 } };
  const steps = 40, batch = 16, warm = 10, tokens = batch * config.seq;
  const tps: Record<'local' | 'hosts', number[]> = { local: [], hosts: [] };
  for (let r = 0; r < Math.max(2, rounds - 1); r++) {
    for (const where of ['local', 'hosts'] as const) {
      const h = await trainDistributed({ devices: 2, config, steps, batch, lr: 8e-3, hosts: where === 'hosts' ? { nats: broker.url, hosts: 2 } : undefined });
      tps[where].push(tokens / (median(h.slice(warm).map((s) => s.stepMs)) / 1000));
    }
  }
  const l = median(tps.local), h = median(tps.hosts);
  process.stdout.write(`${JSON.stringify({ bench: 'hosts-train', model: 'gpt-moe (npm start)', devices: 2, steps, localTokensPerSec: Math.round(l), hostsTokensPerSec: Math.round(h), hostsOverLocal: round(h / l), local: tps.local.map(Math.round), hosts: tps.hosts.map(Math.round), cpu })}\n`);
} finally {
  for (const p of hostProcs) p.kill('SIGTERM');
}

// Topology: 2 hosts of 2 devices, FlexMoE under hot experts that drift (gates routing zipf:2,drift),
// planning with the profile calibrate measures (a host is a node; the link between hosts is NATS's)
// against the same profile with the topology ignored (one node, every link as fast as a ring).
// Experts of width 2048 and a small batch, so that a replica group spanning the hosts (its
// gradients all-reduced over NATS every step) costs more than the tokens it keeps local. Alternating.
const wide = ['a', 'b'].map((id) => spawn(process.execPath, ['--import', 'tsx', main, 'host', '--nats', broker.url, '--id', `topo-${id}`, '--devices', '2'], { stdio: 'ignore' }));
try {
  const corpus = new CharCorpus(mobyDick());
  const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 32, dModel: 64, heads: 4, dFF: 2048, layers: 2, seed: 1, moe: { experts: 8, topk: 1, auxCoef: 0.01, routing: 'zipf:2,drift' } };
  const hosts = { nats: broker.url, hosts: 2 }, steps = 60, batch = 8, warm = 20, tokens = batch * config.seq;
  const aware = await calibrate({ dModel: config.dModel, dFF: config.dFF, devices: 4, hosts });
  const blind = { ...aware, name: 'topology ignored', devicesPerNode: 4, interNodeGBps: aware.intraNodeGBps };
  const tps: Record<'aware' | 'blind', number[]> = { aware: [], blind: [] };
  const crossHost: Record<'aware' | 'blind', number> = { aware: 0, blind: 0 };
  for (let r = 0; r < Math.max(2, rounds - 1); r++) {
    for (const which of ['aware', 'blind'] as const) {
      let spans = 0;
      const h = await trainDistributed({ devices: 4, hosts, config, steps, batch, lr: 8e-3, policy: 'flexmoe', profile: which === 'aware' ? aware : blind, slots: 4, onRebalance: (b) => (spans = b.replicas.filter((reps) => new Set(reps.map((d) => d >> 1)).size > 1).length) });
      tps[which].push(tokens / (median(h.slice(warm).map((s) => s.stepMs)) / 1000));
      crossHost[which] = Math.max(crossHost[which], spans);
    }
  }
  const a = median(tps.aware), b = median(tps.blind);
  process.stdout.write(`${JSON.stringify({ bench: 'hosts-topology', devices: 4, hosts: 2, interHostGBps: round(aware.interNodeGBps), intraHostGBps: round(aware.intraNodeGBps), awareTokensPerSec: Math.round(a), blindTokensPerSec: Math.round(b), awareOverBlind: round(a / b), aware: tps.aware.map(Math.round), blind: tps.blind.map(Math.round), expertsSpanningHosts: crossHost, cpu })}\n`);
} finally {
  for (const p of wide) p.kill('SIGTERM');
  await broker.stop();
}
