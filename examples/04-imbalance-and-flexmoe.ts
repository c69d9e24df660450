// %% [markdown]
// # Imbalance appears; FlexMoE moves experts
//
// GPT-MoE on 2 devices (worker threads), its router started Zipf-skewed so expert 0 is hot. Once
// with the static placement, once with FasterMoE shadowing the hot experts within each step, once
// with FlexMoE re-planning live between steps; same seed, so the losses match.

// %%
import { Trainer, CharCorpus, mobyDick, display, lineChart, heatMap, table } from '../src/index.js';
import type { CharTransformerConfig, TrainEvent } from '../src/index.js';

const quick = process.env.FLEXMOE_QUICK === '1';
const corpus = new CharCorpus(mobyDick());
const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 32, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 1, moe: { experts: 4, topk: 1, routerSkew: 2 } };
const steps = quick ? 12 : 80;
const runs: Record<string, Extract<TrainEvent, { type: 'batch-end' }>[]> = {};
const replans: number[] = [];
const placements: number[][][] = [[[0], [1], [0], [1]]]; // layer 0, version by version (round-robin start)

// %%
const shadowed: Record<string, number> = {};
for (const policy of ['static', 'fastermoe', 'flexmoe']) {
  const trainer = new Trainer({ config, devices: 2, batch: 8, lr: 5e-3, policy, slots: 4 });
  runs[policy] = [];
  trainer.events$.subscribe((e) => {
    if (e.type === 'batch-end') {
      runs[policy]!.push(e);
      if (e.shadows.some((l) => l.length)) shadowed[policy] = (shadowed[policy] ?? 0) + 1;
    }
    if (e.type === 'rebalance') {
      replans.push(e.step);
      placements.push(e.replicas);
      console.log(`step ${e.step}: ${e.ops.map((o) => (o.op === 'migrate' ? `migrate e${o.expert} ${o.from}→${o.to}` : `${o.op} e${o.expert} on dev${o.device}`)).join(', ')}`);
    }
  });
  await trainer.fit({ steps });
}

// %% [markdown]
// The balance ratio (max ÷ mean device load) under each policy, FlexMoE's re-plans dashed; the
// losses agree. FasterMoE never moves an expert: in every step it decides again which hot experts
// to shadow (computed on every device, on that device's own tokens), so its balance is that of each
// step's shadows. Tokens/s from one short run each on a busy machine is mostly noise (and the first
// run in a process is slower); `npx tsx bench/live.ts` compares the policies in interleaved rounds.

// %%
display(lineChart({ title: 'balance ratio', series: Object.entries(runs).map(([p, h]) => ({ name: p, values: h.map((s) => s.balanceRatio) })), markers: replans, xLabel: 'step' }));
display(lineChart({ title: 'training loss', series: Object.entries(runs).map(([p, h]) => ({ name: p, values: h.map((s) => s.loss) })), xLabel: 'step' }));
display(table(['policy', 'median tokens/s', 'last loss', 'steps with shadows'], Object.entries(runs).map(([p, h]) => [p, [...h.map((s) => s.tokensPerSec)].sort((a, b) => a - b)[h.length >> 1]!, h.at(-1)!.loss, String(shadowed[p] ?? 0)])));

// %% [markdown]
// Per-expert load over time under the static placement (tokens routed to each expert per step),
// and the placement, version by version, as FlexMoE changed it.

// %%
const counts = runs.static!.map((s) => s.expertCounts[0]!);
display(lineChart({ title: 'tokens per expert per step (static run)', series: counts[0]!.map((_, e) => ({ name: `expert ${e}`, values: counts.map((c) => c[e]!) })), xLabel: 'step' }));
display(heatMap({
  title: 'placement over time (rows: versions; columns: device:expert)',
  rowLabels: placements.map((_, v) => `v${v}`),
  colLabels: [0, 1].flatMap((d) => placements[0]!.map((_, e) => `${d}:${e}`)),
  values: placements.map((reps) => [0, 1].flatMap((d) => reps.map((r) => (r.includes(d) ? 1 : 0)))),
}));
