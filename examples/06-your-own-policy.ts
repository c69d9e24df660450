// %% [markdown]
// # Write and plug in a placement policy
//
// A policy is three functions: where to start, what to change before a step, and how tokens meet
// experts. This one copies the hottest expert everywhere it can, once.

// %%
import { simulate, SyntheticWorkload, parseWorkload, clusterA100, display, table, trainDistributed, CharCorpus, mobyDick } from 'flexmoe';
import { hottestEverywhere } from './hottest-everywhere.js';

// The policy, from examples/hottest-everywhere.ts:
//   initial: round-robin; decide: at step 1, expand the hottest expert onto every device with room;
//   dispatch: split tokens over replicas, keeping them home when their device has one.

// %%
const source = new SyntheticWorkload(parseWorkload('zipf:2'), 32, 2, process.env.FLEXMOE_QUICK === '1' ? 40 : 200, 4096, 1);
const { reports } = simulate({ source, devices: 8, slots: 8, profile: clusterA100, policies: ['static', 'flexmoe', () => hottestEverywhere] });
display(table(['policy', 'mean step ms', 'balance', 're-plans'], reports.map((r) => [r.policy, r.meanStepMs, r.balanceRatio, r.replans])));

// %% [markdown]
// ## By name, live
//
// examples/hottest-everywhere.ts ends with `registerPolicy('hottest-everywhere', …)`, so the name
// works wherever that module is loaded, as a built-in's does. Live, the scheduler actor makes its
// policy on a device: list the module in `modules` and the devices load it first. Here it plans
// between the steps of a small GPT-MoE on 2 devices, and its expand carries out as clones of the
// hot expert's actor. From the command line:
//
//     npx flexmoe simulate --module examples/hottest-everywhere.ts --workload zipf:2 --experts 32 --devices 8 --slots 8 --policies static,flexmoe,hottest-everywhere
//     npx flexmoe train --devices 2 --router-skew 1.5 --module examples/hottest-everywhere.ts --policy hottest-everywhere

// %%
const corpus = new CharCorpus(mobyDick().slice(0, 200_000));
const config = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 7, moe: { experts: 4, topk: 1 as const, auxCoef: 0.01, routerSkew: 1.5 } };
const changes: string[][] = [];
const live = await trainDistributed({
  config, devices: 2, steps: 4, batch: 8, lr: 5e-3, corpusChars: 200_000, slots: 4, profile: clusterA100,
  policy: 'hottest-everywhere', modules: ['hottest-everywhere.ts'],
  onRebalance: (r) => changes.push([`after step ${r.step}`, `layer ${r.layer}`, JSON.stringify(r.replicas), `${r.moves!.cloned} cloned`]),
});
display(table(['when', 'layer', 'replicas per expert', 'actors'], changes));
console.log(`placement version after ${live.length} steps: ${live.at(-1)!.placementVersion}`);
