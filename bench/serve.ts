// Serving under load: the example service on loopback, driven by autocannon with a skewed request
// mix whose hot set shifts halfway, with static placement (DeepSpeed's padded buffers, and without
// padding) and with FlexMoE (and FasterMoE shadowing or flexmoe-react when asked), same run. Prints one
// JSON line per run and policy, then {"serveSpeedup": flexmoe rps ÷ static rps} (and the other ratios).
// Usage: npx tsx bench/serve.ts [--checkpoint FILE] [--duration S] [--connections C] [--rounds R]
//        [--devices D] [--slots S] [--max-tokens N] [--policies static,static-unpadded,flexmoe,fastermoe]
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { demoLanguageCheckpoint, demoLanguageConfig } from '../examples/service/demo.js';
import { roundOrder } from '../src/cli/compare.js';
import { median, round } from './harness.js';
import { headroom } from '../src/stats.js';
import { domains, measureDomains, pickShift } from './serve-traffic.js';

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' }, duration: { type: 'string', default: '20' }, connections: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '2' }, devices: { type: 'string', default: '2' }, slots: { type: 'string', default: '5' },
    'max-tokens': { type: 'string', default: '8' }, 'max-batch': { type: 'string', default: '16' }, policies: { type: 'string', default: 'static,static-unpadded,flexmoe' },
  },
});
const policies = values.policies!.split(',');
if (!policies.includes('static') || !policies.includes('flexmoe')) throw new Error('--policies: static and flexmoe both run (serveSpeedup is their ratio)');
const duration = Number(values.duration), devices = Number(values.devices), maxTokens = Number(values['max-tokens']);
const log = (s: string) => process.stderr.write(`bench/serve: ${s}\n`);
const checkpoint = values.checkpoint ?? (await demoLanguageCheckpoint(join(tmpdir(), 'flexmoe-serve-demo-gpt.ckpt'), 300, log));

// The traffic: the most skewed domain, then the one whose hot experts differ most from it.
const all = domains(demoLanguageConfig().seq);
const routing = await measureDomains(checkpoint, all, devices);
const [a, b] = pickShift(routing);
log(`domains by static balance: ${routing.map((r) => `${r.name} ${r.staticBalance.toFixed(2)}`).join(', ')}; traffic ${a.name} → ${b.name}`);

interface Run { policy: string; rps: number; p50Ms: number; p99Ms: number; errors: number; overloaded: number; replans: number; shadowedPasses: number; rssStartMiB: number; rssEndMiB: number; rssEvery10sMiB: number[]; passSeconds: number; expertShare: number; imbalanceShare: number }

async function startService(policy: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/service/server.ts', '--generate', checkpoint, '--port', '0', '--devices', String(devices), '--policy', policy, '--slots', values.slots!, '--max-batch', values['max-batch']!, '--max-queue', '256'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"listening":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the service exited with code ${code} before listening`)));
  });
  return { child, url };
}

/** A metric's value, summed over its labels (0 when absent). */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

/** The passes' time, the experts' (summed over devices) and the experts' imbalance, so far (seconds). */
const passTimes = async (url: string) => ({ pass: await metric(url, 'flexmoe_pass_seconds_total'), expert: await metric(url, 'flexmoe_expert_seconds_total'), imbalance: await metric(url, 'flexmoe_expert_imbalance_seconds_total') });

async function run(policy: string): Promise<Run> {
  const { child, url } = await startService(policy);
  try {
    const body = (prompt: string, i: number) => JSON.stringify({ prompt, maxTokens, seed: i, temperature: 0.8 });
    // Warm-up: compile kernels and fill caches on every device, with the first domain's traffic.
    await Promise.all(all[a.name]!.slice(0, 8).map((p, i) => fetch(`${url}/v1/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(p, i) })));
    const rssStart = await metric(url, 'flexmoe_process_resident_memory_bytes');
    const timesStart = await passTimes(url);
    let sent = 0, overloaded = 0, errors = 0;
    const t0 = Date.now();
    // Resident memory every 10 s, to see whether it levels off.
    const rssSamples: number[] = [];
    const sampler = setInterval(() => void metric(url, 'flexmoe_process_resident_memory_bytes').then((v) => rssSamples.push(round(v / 2 ** 20))), 10_000);
    const result = await autocannon({
      url: `${url}/v1/generate`, connections: Number(values.connections), duration,
      requests: [{
        method: 'POST', headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          const domain = Date.now() - t0 < (duration * 1000) / 2 ? a.name : b.name;
          const prompts = all[domain]!;
          return { ...req, body: body(prompts[sent % prompts.length]!, sent++) };
        },
        onResponse: (status: number, text: string) => {
          if (status === 503 && text.includes('overloaded')) overloaded++;
          else if (status !== 200) errors++;
        },
      }],
    });
    clearInterval(sampler);
    const replans = await metric(url, 'flexmoe_replans_total');
    const shadowedPasses = await metric(url, 'flexmoe_shadowed_passes_total');
    const rssEnd = await metric(url, 'flexmoe_process_resident_memory_bytes');
    const timesEnd = await passTimes(url);
    const passSeconds = timesEnd.pass - timesStart.pass;
    const ok = result.requests.total - overloaded - errors;
    return {
      policy, rps: round(ok / duration), p50Ms: result.latency.p50, p99Ms: result.latency.p99, errors: errors + result.errors + result.timeouts, overloaded, replans, shadowedPasses,
      rssStartMiB: round(rssStart / 2 ** 20), rssEndMiB: round(rssEnd / 2 ** 20), rssEvery10sMiB: rssSamples,
      // Of the passes' time: the experts' (a device's mean) and their imbalance (all a placement can win).
      passSeconds: round(passSeconds), expertShare: round((timesEnd.expert - timesStart.expert) / devices / passSeconds), imbalanceShare: round((timesEnd.imbalance - timesStart.imbalance) / passSeconds),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const runs: Run[] = [];
for (let r = 0; r < Number(values.rounds); r++) {
  // A different order each round (as compare and the live bench do): this machine's speed drifts.
  for (const policy of roundOrder(policies, r)) {
    const x = await run(policy);
    runs.push(x);
    process.stdout.write(`${JSON.stringify({ bench: 'serve', round: r, traffic: `${a.name}→${b.name}`, devices, maxTokens, ...x })}\n`);
  }
}
const rps = (p: string) => median(runs.filter((x) => x.policy === p).map((x) => x.rps));
const also: Record<string, number> = {};
for (const p of policies) if (p !== 'static' && p !== 'flexmoe') also[`${p}OverStatic`] = round(rps(p) / rps('static'));
if (policies.includes('static-unpadded')) also.flexmoeOverStaticUnpadded = round(rps('flexmoe') / rps('static-unpadded'));
if (policies.includes('fastermoe')) also.flexmoeOverFastermoe = round(rps('flexmoe') / rps('fastermoe'));
// What any placement could win on this model and traffic: static-unpadded's expert imbalance, taken off its passes.
if (policies.includes('static-unpadded')) also.headroomOverStaticUnpadded = round(headroom(1, median(runs.filter((x) => x.policy === 'static-unpadded').map((x) => x.imbalanceShare))));
process.stdout.write(`${JSON.stringify({ serveSpeedup: round(rps('flexmoe') / rps('static')), ...also })}\n`);
