// %% [markdown]
// # Imbalance appears; FlexMoE moves experts
//
// GPT-MoE on 2 devices (worker threads), its router started Zipf-skewed so expert 0 is hot. Once
// with the static placement, once with FasterMoE shadowing the hot experts within each step, once
// with FlexMoE re-planning live between steps; same seed, so the losses match.

// %%
import { Trainer, CharCorpus, mobyDick, display, lineChart, heatMap, table } from 'flexmoe';
import type { CharTransformerConfig, TrainEvent } from 'flexmoe';

const quick = process.env.FLEXMOE_QUICK === '1';
const corpus = new CharCorpus(mobyDick());
const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 32, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 1, moe: { experts: 4, topk: 1, routerSkew: 2 } };
const shortSteps = quick ? 12 : 80;
const runs: Record<string, Extract<TrainEvent, { type: 'batch-end' }>[]> = {};
const replans: number[] = [];
const placements: number[][][] = [[[0], [1], [0], [1]]]; // layer 0, version by version (round-robin start)

// %%
const shadowed: Record<string, number> = {};
for (const policy of ['static', 'fastermoe', 'flexmoe']) {
  const trainer = new Trainer({ config: config, devices: 2, batch: 8, lr: 5e-3, policy, slots: 4 });
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
  await trainer.fit({ steps: shortSteps });
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

// %% [markdown]
// ## A lasting skew, and what balance can win
//
// The learned router above evens itself out within a few steps, so there is little left for a
// placement to fix. Here the gates route by the simulator's workload instead (`routing`): Zipf(2)
// popularity, hot set moving every 25 steps, combine weights still from the gates; FlexMoE's
// re-plans are printed as it makes them. Every step also
// reports each device's expert time and the imbalance: how far the busiest device is above the
// devices' mean, summed over the MoE layers' forward and backward (devices meet after each). Under
// the static placement that imbalance is all any placement could take off a step: the headroom.

// %%
// Experts of width 2048, so that they are a fair share of the step and moving one can pay; enough
// steps, even at the quick size, for the window to fill and a plan to land. At the quick size the
// scheduler plans from the profile measured at the start alone and each plan is awaited, so the
// story holds on a busy machine too; otherwise it also learns from every step's measured time.
const lastingSteps = quick ? 40 : 80;
const routed: CharTransformerConfig = { ...config, dFF: 2048, moe: { ...config.moe!, experts: 8, routing: 'zipf:2,drift' } };
const lasting: Record<string, Extract<TrainEvent, { type: 'batch-end' }>[]> = {};
for (const policy of ['static-unpadded', 'flexmoe']) {
  const trainer = new Trainer({ config: routed, devices: 2, batch: 8, lr: 5e-3, policy, slots: 8, reproducibleSchedule: quick });
  lasting[policy] = [];
  trainer.events$.subscribe((e) => {
    if (e.type === 'batch-end') lasting[policy]!.push(e);
    if (e.type === 'rebalance') console.log(`${policy}, step ${e.step}: ${e.ops.map((o) => (o.op === 'migrate' ? `migrate e${o.expert} ${o.from}→${o.to}` : `${o.op} e${o.expert} on dev${o.device}`)).join(', ')}`);
  });
  await trainer.fit({ steps: lastingSteps });
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
display(lineChart({ title: "experts' imbalance per step (ms)", series: Object.entries(lasting).map(([p, h]) => ({ name: p, values: h.map((s) => s.expertImbalanceMs) })), xLabel: 'step' }));
display(table(['policy', 'median step ms', 'median expert ms (busiest device)', 'median imbalance ms', 'headroom (step ÷ (step − imbalance))'], Object.entries(lasting).map(([p, h]) => {
  const step = med(h.map((s) => s.stepMs)), imb = med(h.map((s) => s.expertImbalanceMs));
  return [p, step, med(h.map((s) => Math.max(...s.deviceExpertMs))), imb, step / (step - imb)];
})));

// %% [markdown]
// The static row's headroom is the most any placement could win on this model and machine; the
// FlexMoE row shows how much imbalance it left. Much of a small model's step is still attention,
// norms, the head and Adam, which no placement touches. `npx flexmoe compare --routing zipf:2,drift
// --d-ff 2048 --experts 8 --topk 1` compares the policies in interleaved rounds (docs/benchmarks.md).
