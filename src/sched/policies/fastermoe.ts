import { unitCosts, type CostProfile } from '../cost.js';
import { Placement } from '../placement.js';
import { expertTotals, type Policy } from '../policy.js';

/**
 * FasterMoE expert shadowing (He et al., PPoPP'22; laekov/fastmoe, fmoe/fastermoe/shadow_policy.py):
 * every step, after gating, walk the experts from hottest down; shadowing expert i (broadcasting its
 * weights to every device, so its tokens are computed where they are) is worth it while the
 * latency bound by the next-hottest expert plus the accumulated weight transfers beats the current
 * bound. The estimate is the hottest expert's compute (3 GEMM passes in training, the forward in
 * serving) + 4 all-to-all rounds of its tokens (2 in serving).
 * A shadow takes a slot on every device, so at most the free slots per device are shadowed.
 */
export function shadowSelection(totals: Float64Array, cost: CostProfile, maxShadows: number): number[] {
  const u = unitCosts(cost);
  const comp = u.expertMsPerToken / 3; // a third of an expert's work per token: one of training's 3 GEMM passes
  const sendFeature = u.linkMs(u.tokenBytes, false);
  const sendModel = u.linkMs(u.paramBytes, false);
  const order = [...totals.keys()].sort((a, b) => totals[b]! - totals[a]! || a - b);
  const rounds = cost.training ? 4 : 2;
  let lat = 3 * comp * totals[order[0]!]! + rounds * sendFeature * totals[order[0]!]!;
  let shadowTime = 0;
  const shadows: number[] = [];
  for (let i = 0; i + 1 < order.length && shadows.length < maxShadows; i++) {
    shadowTime += sendModel;
    const next = totals[order[i + 1]!]!;
    const latNew = 3 * comp * next + rounds * sendFeature * next + shadowTime;
    if (latNew >= lat) break;
    lat = latNew;
    shadows.push(order[i]!);
  }
  return shadows;
}

export function fastermoePolicy(): Policy {
  return {
    name: 'fastermoe',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: () => [],
    dispatch: (load, placement, cost) => {
      let free = Infinity;
      for (let d = 0; d < placement.devices; d++) free = Math.min(free, placement.freeSlots(d));
      return { mode: 'shadow', shadows: shadowSelection(expertTotals(load.current, placement.experts), cost, free) };
    },
  };
}
