// Live rebalancing on this machine: GPT-MoE on 2 devices with a Zipf(1.5)-skewed router start,
// static placement (DeepSpeed's padded buffers, and without padding) against FlexMoE, FasterMoE
// shadowing and flexmoe-react (both), same run, same seed. Prints tokens/s (median step after
// warm-up), the re-plan step cost against a normal step, how many steps shadowed, and whether the
// losses matched.
// Usage: npx tsx bench/live.ts [--steps N] [--rounds R] [--d-ff F] [--experts E] [--routing zipf:S[,drift]]
//        [--policies static,static-unpadded,flexmoe,fastermoe,flexmoe-react]
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { calibrate } from '../src/sched/calibrate.js';
import { trainDistributed, type DistributedStep } from '../src/train/distributed.js';
import { expertTime, roundOrder } from '../src/cli/compare.js';
import { median, round } from './harness.js';
import { headroom } from '../src/stats.js';

const flag = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const steps = flag('--steps', 80), rounds = flag('--rounds', 4), dFF = flag('--d-ff', 128), experts = flag('--experts', 4);
const warm = 10, devices = 2;
const ri = process.argv.indexOf('--routing');
// --routing: the gates route by a synthetic workload (GateOptions.routing) instead of their logits.
const routing = ri > 0 ? process.argv[ri + 1]! : undefined;
const pi = process.argv.indexOf('--policies');
const policies = pi > 0 ? process.argv[pi + 1]!.split(',') : ['static', 'static-unpadded', 'flexmoe', 'fastermoe', 'flexmoe-react'];
if (policies[0] !== 'static') throw new Error('--policies: static first (the baseline every ratio is against)');
const corpus = new CharCorpus(mobyDick());
const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 32, dModel: 64, heads: 4, dFF, layers: 2, seed: 1, moe: { experts, topk: 1, auxCoef: 0.01, routerSkew: 1.5, routing } };
const profile = await calibrate({ dModel: config.dModel, dFF: config.dFF, devices });
const run = (policy: string) => trainDistributed({ devices, config, steps, batch: 16, lr: 8e-3, slots: 4, policy, profile });
const roundAll = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)]));
const tps = (h: DistributedStep[]) => (16 * config.seq * 1000) / median(h.slice(warm).map((s) => s.stepMs));
// Runs in one process get faster one after another (measured: 73, 67, 52 ms per step for three
// static runs in a row), so each round runs the policies in another order (rotated, and reversed
// every other round: ABBA for two) and each policy's tokens/s is the median over rounds.
const results: Record<string, DistributedStep[][]> = Object.fromEntries(policies.map((p) => [p, []]));
for (let r = 0; r < rounds; r++) {
  for (const policy of roundOrder(policies, r)) {
    const h = await run(policy);
    results[policy]!.push(h);
    const normal = median(h.slice(warm).filter((s) => s.replanMs === 0).map((s) => s.stepMs));
    const replans = h.filter((s) => s.replanMs > 0);
    // A re-plan's cost: its step plus the switch, and the step after (new replicas' first work),
    // each against a normal step; only after warm-up, since the first steps are slow regardless
    // and most re-plans happen early.
    const later = replans.filter((s) => s.step >= warm && s.step + 1 < h.length);
    const ratio = (xs: number[]) => (xs.length ? round(median(xs) / normal) : null);
    const replanStepOverNormal = ratio(later.map((s) => s.stepMs + s.replanMs));
    const nextStepOverNormal = ratio(later.map((s) => h[s.step + 1]!.stepMs));
    process.stdout.write(`${JSON.stringify({ bench: 'live', round: r, policy, devices, dFF, experts, routerSkew: 1.5, routing, steps, tokensPerSec: Math.round(tps(h)), replans: replans.length, replansAfterWarmup: later.length, replanStepOverNormal, nextStepOverNormal, stepsShadowing: h.filter((s) => s.shadows.some((l) => l.length)).length, exchangeMs: round(median(h.slice(warm).map((s) => Math.max(...s.deviceExchangeMs)))), ...roundAll(expertTime(h.slice(warm))), lastLoss: round(h.at(-1)!.loss, 5) })}\n`);
  }
}
const medianTps = (p: string) => median(results[p]!.map(tps));
// Placement is transparent up to float32 summation order; over many steps those differences grow
// slowly, so report the largest relative loss difference over the first 20 steps and over the run.
const st = results.static![0]!;
const diff = (h: DistributedStep[], n: number) => Math.max(...st.slice(0, n).map((s, i) => Math.abs(s.loss - h[i]!.loss) / s.loss));
const summary: Record<string, unknown> = { bench: 'live-summary', rounds };
for (const p of policies.slice(1)) {
  summary[`${p}OverStatic`] = round(medianTps(p) / medianTps('static'));
  summary[`${p}PerRound`] = results.static!.map((h, r) => round(tps(results[p]![r]!) / tps(h)));
  summary[`${p}LossRelDiff`] = { first20: diff(results[p]![0]!, 20), all: diff(results[p]![0]!, steps) };
  // Against the stronger baseline too: the same placement computing exact rows (no padding).
  if (results['static-unpadded'] && p !== 'static-unpadded') summary[`${p}OverStaticUnpadded`] = round(medianTps(p) / medianTps('static-unpadded'));
}
for (const p of ['flexmoe', 'flexmoe-react']) if (results[p] && results.fastermoe) summary[`${p}OverFastermoe`] = round(medianTps(p) / medianTps('fastermoe'));
// What any placement could win on this model: static-unpadded's expert imbalance, taken off its step.
if (results['static-unpadded']) {
  const runs = results['static-unpadded']!.map((h) => ({ stepMs: median(h.slice(warm).map((s) => s.stepMs)), ...expertTime(h.slice(warm)) }));
  const stepMs = median(runs.map((r) => r.stepMs)), imbalanceMs = median(runs.map((r) => r.imbalanceMs));
  summary.headroom = { stepMs: round(stepMs), expertMs: round(median(runs.map((r) => r.expertMs))), imbalanceMs: round(imbalanceMs), bound: round(headroom(stepMs, imbalanceMs)) };
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
