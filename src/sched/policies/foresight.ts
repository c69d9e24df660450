import { Placement } from '../placement.js';
import { planFlexMoE } from '../planner.js';
import { expertTotals, type Policy } from '../policy.js';

/**
 * FlexMoE's planner with foresight: before every step it plans from that step's own routing, as if
 * it knew it in advance, and its plans take effect at once (no lag). It pays every cost a real
 * placement pays: its moves are charged to the step they happen in, and a plan must pay for its
 * moves within the planner's horizon. Only its planning time is free (with foresight it could run
 * ahead). A bound for comparisons, not a policy to run (simulator only): what a FlexMoE-style
 * placement could reach if it knew each step's routing, under the same cost model.
 */
export function foresightPolicy(): Policy {
  return {
    name: 'foresight',
    bound: true,
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: () => [],
    react: (load, placement, cost) => planFlexMoE(expertTotals(load.current, placement.experts), placement, cost, { horizon: 25, locality: true }),
    dispatch: () => ({ mode: 'split', locality: true }),
  };
}

/**
 * The same with free moves: before every step it plans from that step's own routing and its moves
 * and planning cost nothing, so any gain is worth taking, however short-lived. The outer placement
 * bound: between the oracle (a free perfect split, with no replicas to keep in sync) and foresight.
 * The idea is the per-step re-placement with free migration that the SYMI line of work takes as its
 * upper bound when optimizer state is decoupled from the experts (see docs/policies.md).
 */
export function foresightFreePolicy(): Policy {
  return {
    name: 'foresight-free',
    free: true,
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: () => [],
    react: (load, placement, cost) => planFlexMoE(expertTotals(load.current, placement.experts), placement, cost, { horizon: Infinity, minGain: 0, locality: true }),
    dispatch: () => ({ mode: 'split', locality: true }),
  };
}
