// The policy of examples/06-your-own-policy.ts (and of docs/policies.md): copy the hottest expert
// of the first step onto every device with a free slot, once.
import { Placement, registerPolicy, type Policy } from 'flexmoe';

export const hottestEverywhere: Policy = {
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

// Known by name wherever this module is loaded: `flexmoe simulate --module … --policies …,hottest-everywhere`,
// and live, where the scheduler actor makes its policy on a device that loaded the module first.
registerPolicy('hottest-everywhere', () => hottestEverywhere);
