// %% [markdown]
// # Write and plug in a placement policy
//
// A policy is three functions: where to start, what to change before a step, and how tokens meet
// experts. This one copies the hottest expert everywhere it can, once.

// %%
import { Placement, simulate, SyntheticWorkload, parseWorkload, clusterA100, display, table } from '../src/index.js';
import type { Policy } from '../src/index.js';

const hottestEverywhere: Policy = {
  name: 'hottest-everywhere',
  initial: (D, S, E) => Placement.roundRobin(D, S, E),
  decide(load, placement) {
    if (load.step !== 1) return [];
    const last = load.history.at(-1)!;
    const hot = last.indexOf(Math.max(...last));
    return [...Array(placement.devices).keys()]
      .filter((d) => !placement.hosts[d]!.includes(hot) && placement.freeSlots(d) > 0)
      .map((device) => ({ op: 'expand' as const, expert: hot, device }));
  },
  dispatch: () => ({ mode: 'split', locality: true }),
};

// %%
const source = new SyntheticWorkload(parseWorkload('zipf:2'), 32, 2, process.env.FLEXMOE_QUICK === '1' ? 40 : 200, 4096, 1);
const { reports } = simulate({ source, devices: 8, slots: 8, profile: clusterA100, policies: ['static', 'flexmoe', () => hottestEverywhere] });
display(table(['policy', 'mean step ms', 'balance', 're-plans'], reports.map((r) => [r.policy, r.meanStepMs, r.balanceRatio, r.replans])));
