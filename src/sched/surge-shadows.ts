import { stepCost, type CostProfile } from './cost.js';
import type { Placement } from './placement.js';
import { expertTotals } from './policy.js';
import type { Counts } from './workload.js';

/**
 * The experts FlexMoE shadows within a step (`flexmoe-react`), chosen after gating from the step's
 * own routing: when the placement leaves the step's device loads more unbalanced than `threshold`
 * (max ÷ mean), take experts in order of load per replica and keep shadowing (every device computes
 * its own tokens of the expert on a temporary copy; FasterMoE's mechanism, src/moe/shadows.ts) while
 * the cost model's step time, which charges each shadow's weight and gradient transfer, keeps
 * falling. A shadow takes a slot on every device that holds no replica of its expert (FasterMoE
 * counts one on every device, replica or not). Placement changes wait for the
 * next plan beside a step; shadows bridge the steps until then, for the price of their transfers
 * rather than of moving weights and optimizer state.
 */
export function surgeShadows(counts: Counts, placement: Placement, cost: CostProfile, topk: number, opts: { threshold: number; locality: boolean }): number[] {
  const D = placement.devices, E = placement.experts;
  const free = Array.from({ length: D }, (_, d) => placement.freeSlots(d));
  const split = stepCost(counts, placement, cost, { mode: 'split', locality: opts.locality }, topk);
  if (split.balanceRatio <= opts.threshold) return [];
  const totals = expertTotals(counts, E);
  const reps = placement.replicas();
  const order = [...Array(E).keys()].filter((e) => reps[e]!.length < D && totals[e]! > 0);
  order.sort((a, b) => totals[b]! / reps[b]!.length - totals[a]! / reps[a]!.length || a - b);
  let best = split.stepMs;
  const chosen: number[] = [];
  for (const e of order) {
    const needs = [...Array(D).keys()].filter((d) => !reps[e]!.includes(d));
    if (needs.some((d) => free[d]! <= 0)) continue; // no room for a copy somewhere: the next candidate may fit
    const trial = stepCost(counts, placement, cost, { mode: 'shadow', shadows: [...chosen, e], locality: opts.locality }, topk).stepMs;
    if (trial >= best) break;
    best = trial;
    chosen.push(e);
    for (const d of needs) free[d]!--;
  }
  return chosen.sort((a, b) => a - b);
}
