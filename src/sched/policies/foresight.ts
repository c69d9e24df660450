import { Placement } from '../placement.js';
import { planFlexMoE } from '../planner.js';
import { expertTotals, type Policy } from '../policy.js';

/**
 * FlexMoE's planner with foresight and free moves: before every step it plans from that step's
 * own routing, and its moves and planning cost nothing. A bound for comparisons, not a policy to
 * run (simulator only): the step time a FlexMoE-style placement could reach under the same cost
 * model, replicas' gradient all-reduce and all-to-all included. It sits between the oracle (a free
 * perfect split, with no replicas to keep in sync) and what a policy planning from history can
 * do. The idea is the per-step re-placement with free migration that the SYMI line of work takes
 * as its upper bound when optimizer state is decoupled from the experts (see docs/policies.md).
 */
export function foresightPolicy(): Policy {
  return {
    name: 'foresight',
    free: true,
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: () => [],
    // Moves are free, so any gain is worth taking, however short-lived.
    react: (load, placement, cost) => planFlexMoE(expertTotals(load.current, placement.experts), placement, cost, { horizon: Infinity, minGain: 0, locality: true }),
    dispatch: () => ({ mode: 'split', locality: true }),
  };
}
