// %% [markdown]
// # Write and plug in a placement policy
//
// A policy is three functions: where to start, what to change before a step, and how tokens meet
// experts. This one copies the hottest expert everywhere it can, once.

// %%
import { simulate, SyntheticWorkload, parseWorkload, clusterA100, display, table } from '../src/index.js';
import { hottestEverywhere } from './hottest-everywhere.js';

// The policy, from examples/hottest-everywhere.ts:
//   initial: round-robin; decide: at step 1, expand the hottest expert onto every device with room;
//   dispatch: split tokens over replicas, keeping them home when their device has one.

// %%
const source = new SyntheticWorkload(parseWorkload('zipf:2'), 32, 2, process.env.FLEXMOE_QUICK === '1' ? 40 : 200, 4096, 1);
const { reports } = simulate({ source, devices: 8, slots: 8, profile: clusterA100, policies: ['static', 'flexmoe', () => hottestEverywhere] });
display(table(['policy', 'mean step ms', 'balance', 're-plans'], reports.map((r) => [r.policy, r.meanStepMs, r.balanceRatio, r.replans])));
