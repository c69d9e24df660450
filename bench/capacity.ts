// What dropping tokens buys and costs, live: GPT-MoE on 2 devices (top-2, router skewed at the start,
// the static placement) dropless with each expert's exact rows, against GShard/DeepSpeed capacity
// factors that drop what overflows a source's per-expert buffer. Same seed and data; the variants
// run in a different order each round (roundOrder). Prints tokens/s (median step after warm-up),
// the fraction of assignments dropped, the training loss over the last 20 steps and the held-out
// loss at the end, and a summary against the dropless run.
// Usage: npx tsx bench/capacity.ts [--steps N] [--rounds R] [--factors 1,1.25]
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { trainDistributed, type DistributedStep } from '../src/train/distributed.js';
import { roundOrder } from '../src/cli/compare.js';
import { median, round } from './harness.js';

const flag = (name: string, def: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
const steps = Number(flag('--steps', '200')), rounds = Number(flag('--rounds', '2'));
const factors = [0, ...flag('--factors', '1,1.25').split(',').map(Number)];
const warm = 10, devices = 2, batch = 16;
const corpus = new CharCorpus(mobyDick());
const config = (capacityFactor: number): CharTransformerConfig => ({
  vocab: corpus.vocab.size, seq: 32, dModel: 64, heads: 4, dFF: 128, layers: 2, seed: 1,
  moe: { experts: 4, topk: 2, auxCoef: 0.01, routerSkew: 1.5, capacityFactor },
});
const assignments = steps * batch * 32 * 2 * 2; // tokens × top-2 × 2 MoE layers
const name = (f: number) => (f ? `capacity ${f}` : 'dropless');
const runs: Record<string, DistributedStep[][]> = {};
for (let r = 0; r < rounds; r++) {
  for (const f of roundOrder(factors, r)) {
    const h = await trainDistributed({ devices, config: config(f), steps, batch, lr: 8e-3, slots: 4, policy: 'static-unpadded', evalEvery: steps });
    (runs[name(f)] ??= []).push(h);
    const line = {
      bench: 'capacity', round: r, variant: name(f), capacityFactor: f, steps,
      tokensPerSec: Math.round(median(h.slice(warm).map((s) => s.tokensPerSec))),
      droppedFraction: round(h.reduce((n, s) => n + s.droppedTokens, 0) / assignments, 4),
      lastLoss: round(median(h.slice(-20).map((s) => s.loss)), 4),
      evalLoss: round(h.at(-1)!.evalLoss ?? NaN, 4),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}
const of = (v: string, pick: (h: DistributedStep[]) => number) => median(runs[v]!.map(pick));
const tps = (h: DistributedStep[]) => median(h.slice(warm).map((s) => s.tokensPerSec));
const evalLoss = (h: DistributedStep[]) => h.at(-1)!.evalLoss ?? NaN;
const summary: Record<string, unknown> = { bench: 'capacity-summary', rounds, steps };
for (const f of factors.slice(1)) {
  summary[name(f)] = {
    overDroplessTokensPerSec: round(of(name(f), tps) / of('dropless', tps), 3),
    droppedFraction: round(of(name(f), (h) => h.reduce((n, s) => n + s.droppedTokens, 0) / assignments), 4),
    evalLossMinusDropless: round(of(name(f), evalLoss) - of('dropless', evalLoss), 4),
  };
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
