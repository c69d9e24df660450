import type { CostProfile, Dispatch } from './cost.js';
import type { Placement, PlacementOp } from './placement.js';
import type { Counts } from './workload.js';
import type { Estimator } from './operators/window-load.js';

/** What a policy sees of the routing. */
export interface LoadView {
  step: number;
  /** Per-expert assignments of recent steps, oldest first (summed over sources and layers). */
  history: readonly Float64Array[];
  /** This step's counts [source][expert], for policies that act after gating (FasterMoE, the oracle). */
  current: Counts;
  topk: number;
  /** The scheduling pipeline's per-expert load estimate (`Policy.schedule.estimator`), when `decide` is called by it. */
  estimate?: Float64Array;
}

/**
 * How the scheduling pipeline (sched/pipeline.ts) feeds a policy: windowLoad → balance → trigger
 * → decide. Absent, every step with a history reaches `decide`, with the last step as the estimate.
 */
export interface PolicySchedule {
  /** How the history becomes the estimate `decide` plans from (default: the last step). */
  estimator?: Estimator;
  /** Plan only while the estimate's balance ratio is armed (hysteresis); a plan with no ops disarms it. */
  trigger?: { threshold: number; release: number };
  /** Consider planning every this many steps (default 1). */
  checkEvery?: number;
  /** How an estimate falls on devices for the balance ratio (default: split evenly over replicas). */
  loads?: (estimate: Float64Array, placement: Placement, cost: CostProfile) => Float64Array;
}

/**
 * A placement policy. `decide` returns the placement changes to make before a step and must be
 * deterministic (the same code runs in the simulator, in live training and in a serving process);
 * it is called by the scheduling pipeline (sched/pipeline.ts), which estimates the load and applies
 * the trigger that `schedule` asks for;
 * `dispatch` says how the step's tokens meet the experts. A policy object may keep state between
 * steps (a trigger's hysteresis, a re-plan interval), so create one per run.
 *
 * Live, the devices split tokens as `split` with locality does; the built-ins whose `dispatch` can
 * answer `shadow` (fastermoe, flexmoe-react) have it asked on every device after gating, with the
 * step's routing matrix as `load.current` and nothing else, so it must depend on nothing more. A
 * policy object passed to `trainDistributed` runs its `decide` live; its `dispatch` is the
 * simulator's.
 *
 * @example
 * const mine: Policy = {
 *   name: 'hottest-everywhere',
 *   initial: (D, S, E) => Placement.roundRobin(D, S, E),
 *   decide: () => [],
 *   dispatch: () => ({ mode: 'split' }),
 * };
 */
export interface Policy {
  readonly name: string;
  initial(devices: number, slots: number, experts: number): Placement;
  /** How the scheduling pipeline feeds `decide` (estimate, trigger); see PolicySchedule. */
  readonly schedule?: PolicySchedule;
  /** Sees every step the pipeline considers, triggered or not (before the trigger). */
  observe?(load: LoadView): void;
  decide(load: LoadView, placement: Placement, cost: CostProfile): PlacementOp[];
  dispatch(load: LoadView, placement: Placement, cost: CostProfile): Dispatch;
  /**
   * Optional: placement changes made after gating, from the step's own routing (`load.current`),
   * before its tokens are dispatched; `null` when the policy did not plan. A plan made here holds
   * the step, so the simulator charges its planning (`cost.reactPlanMs`, also when it changed
   * nothing) and its state moves to that step. Live executors switch placements only at step
   * boundaries and do not call it: live, such a policy runs without its in-step plans.
   */
  react?(load: LoadView, placement: Placement, cost: CostProfile): PlacementOp[] | null;
  /** A bound rather than a policy: the simulator charges its moves and in-step planning nothing (foresight-free, the oracle). */
  readonly free?: boolean;
  /** A bound that pays for its moves: its plans are never lagged and its in-step planning is free (foresight). */
  readonly bound?: boolean;
}

/** Mean per-expert load over the last `window` steps of a history. */
export function windowMean(history: readonly Float64Array[], window: number, experts: number): Float64Array {
  const out = new Float64Array(experts);
  const recent = history.slice(-window);
  for (const h of recent) for (let e = 0; e < experts; e++) out[e]! += h[e]!;
  if (recent.length) for (let e = 0; e < experts; e++) out[e]! /= recent.length;
  return out;
}

/** Per-expert totals of a step's counts. */
export function expertTotals(counts: Counts, experts: number): Float64Array {
  const out = new Float64Array(experts);
  for (const row of counts) for (let e = 0; e < experts; e++) out[e]! += row[e]!;
  return out;
}
