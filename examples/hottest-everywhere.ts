// The policy of examples/06-your-own-policy.ts (and of docs/policies.md): copy the hottest expert
// of the first step onto every device with a free slot, once.
import { Placement, type Policy } from '../src/index.js';

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
