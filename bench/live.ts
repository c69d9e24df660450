// Live rebalancing on this machine: GPT-MoE on 2 devices with a Zipf(1.5)-skewed router start,
// static placement against FlexMoE, same run, same seed. Prints tokens/s (median step after warm-up),
// the re-plan step cost against a normal step, and whether the losses matched.
// Usage: npx tsx bench/live.ts [--steps N]
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { calibrate } from '../src/sched/calibrate.js';
import { trainDistributed, type DistributedStep } from '../src/train/distributed.js';
import { median, round } from './harness.js';

const arg = process.argv.indexOf('--steps');
const steps = arg > 0 ? Number(process.argv[arg + 1]) : 80;
const warm = 10, devices = 2;
const corpus = new CharCorpus(mobyDick());
const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 32, dModel: 64, heads: 4, dFF: 128, layers: 2, seed: 1, moe: { experts: 4, topk: 1, auxCoef: 0.01, routerSkew: 1.5 } };
const profile = await calibrate({ dModel: config.dModel, dFF: config.dFF, devices });
const run = (policy: string) => trainDistributed({ devices, config, steps, batch: 16, lr: 8e-3, slots: 4, policy, profile });
const results: Record<string, DistributedStep[]> = { static: await run('static'), flexmoe: await run('flexmoe') };
const tps = (h: DistributedStep[]) => (16 * config.seq * 1000) / median(h.slice(warm).map((s) => s.stepMs));
for (const [policy, h] of Object.entries(results)) {
  const normal = median(h.slice(warm).filter((s) => s.replanMs === 0).map((s) => s.stepMs));
  const replans = h.filter((s) => s.replanMs > 0);
  const replanCost = replans.length ? median(replans.map((s) => s.stepMs + s.replanMs)) / normal : 0;
  process.stdout.write(`${JSON.stringify({ bench: 'live', policy, devices, routerSkew: 1.5, steps, tokensPerSec: Math.round(tps(h)), replans: replans.length, replanStepOverNormal: round(replanCost), lastLoss: round(h.at(-1)!.loss, 5) })}\n`);
}
// Placement is transparent up to float32 summation order; over many steps those differences grow
// slowly, so report the largest relative loss difference over the first 20 steps and over the run.
const diff = (n: number) => Math.max(...results.static!.slice(0, n).map((s, i) => Math.abs(s.loss - results.flexmoe![i]!.loss) / s.loss));
process.stdout.write(`${JSON.stringify({ bench: 'live-summary', flexmoeOverStatic: round(tps(results.flexmoe!) / tps(results.static!)), lossRelDiffFirst20: diff(20), lossRelDiffAll: diff(steps) })}\n`);
