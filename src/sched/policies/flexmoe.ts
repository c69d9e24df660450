import { balanceRatio, Placement } from '../placement.js';
import { planFlexMoE } from '../planner.js';
import { trafficOf } from '../traffic.js';
import { windowMean, type Policy } from '../policy.js';

export interface FlexMoEOptions {
  /** Re-plan when the estimated balance ratio (max ÷ mean device load) exceeds this … */
  threshold?: number;
  /** … and stay armed until it falls below this (hysteresis: no flapping around the threshold). */
  release?: number;
  /** Steps of history in the load estimate (moving average). */
  window?: number;
  /** Check the trigger every this many steps. */
  checkEvery?: number;
  /** Steps a plan is expected to last (migration cost is amortised over it). */
  horizon?: number;
  /** Keep a token on its own device when that device holds a replica of its expert. */
  locality?: boolean;
  /**
   * Take a jump in an expert's load at once: where the last step exceeds the moving average by this
   * factor, the estimate is the last step. A newly hot expert is then served one step after it turns
   * hot, not `window` steps later, while step-to-step noise (well under the factor) still averages
   * out instead of driving plans back and forth. Default 1.5; Infinity gives the plain moving
   * average the paper describes.
   */
  riseFactor?: number;
}

/**
 * FlexMoE (SIGMOD 2023): watch a moving average of expert loads; when the balance ratio under the
 * current placement crosses the threshold, plan expand / shrink / migrate greedily under the cost
 * model (planner.ts), charging migration. Tokens of a replicated expert split evenly over the
 * replicas nearest their source (topology-aware; `locality: false` splits over all of them).
 */
export function flexmoePolicy(opts: FlexMoEOptions = {}): Policy {
  const { threshold = 1.1, release = 1.05, window = 5, checkEvery = 1, horizon = 25, locality = true, riseFactor = 1.5 } = opts;
  let armed = false;
  return {
    name: 'flexmoe',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide(load, placement, cost) {
      if (load.history.length === 0 || load.step % checkEvery !== 0) return [];
      const estimate = windowMean(load.history, window, placement.experts);
      const last = load.history.at(-1)!;
      for (let e = 0; e < estimate.length; e++) if (last[e]! > riseFactor * estimate[e]!) estimate[e] = last[e]!;
      const ratio = balanceRatio(trafficOf(estimate, placement.replicas(), { devices: placement.devices, devicesPerNode: cost.devicesPerNode, locality }).load);
      if (!armed && ratio > threshold) armed = true;
      else if (armed && ratio < release) armed = false;
      if (!armed) return [];
      const ops = planFlexMoE(estimate, placement, cost, { horizon, locality });
      if (ops.length === 0) armed = false; // nothing pays for itself: stand down until the load moves
      return ops;
    },
    dispatch: () => ({ mode: 'split', locality }),
  };
}
