import { unitCosts } from '../cost.js';
import { reactPlanMs } from '../plan-cost.js';
import { balanceRatio, Placement } from '../placement.js';
import { planFlexMoE } from '../planner.js';
import { surgeShadows } from '../surge-shadows.js';
import { trafficOf } from '../traffic.js';
import { expertTotals, type Policy } from '../policy.js';
import { riseEstimate, surging } from '../operators/window-load.js';
import { errors } from '../../errors.js';

export interface FlexMoEOptions {
  /** Re-plan when the estimated balance ratio (max ÷ mean device load) exceeds this … */
  threshold?: number;
  /** … and stay armed until it falls below this (hysteresis: no flapping around the threshold). */
  release?: number;
  /** Steps of history in the load estimate (moving average). */
  window?: number;
  /** Check the trigger every this many steps. */
  checkEvery?: number;
  /**
   * Steps a plan is expected to last (migration cost is amortised over it). When the hottest expert
   * has been changing every few steps (a mean gap of at most 3 between its last four changes), a
   * plan is expected to last that long, or as many steps as have passed since the last change if
   * more: a router whose favourite flips every step or two gets no placement it cannot pay for in
   * that time. Slower changes (a burst, a drift) keep the full horizon.
   * `adaptiveHorizon: false` keeps the horizon fixed.
   */
  horizon?: number;
  adaptiveHorizon?: boolean;
  /** Keep a token on its own device when that device holds a replica of its expert. */
  locality?: boolean;
  /**
   * Take a jump in an expert's load at once: where the last step exceeds the moving average by this
   * factor, the estimate is the last step. A newly hot expert is then served one step after it turns
   * hot, not `window` steps later, while step-to-step noise (well under the factor) still averages
   * out instead of driving plans back and forth. Default 1.5; Infinity gives the plain moving
   * average the paper describes. When such a jump is one its replicas cannot absorb (more than a
   * device's fair share per replica), the whole last step becomes the estimate: a new regime, in
   * which the rest of the ranking has usually moved too.
   */
  riseFactor?: number;
  /**
   * Also plan after gating, from the step's own routing, when an expert surges past what its
   * replicas can absorb (its load this step exceeds `riseFactor` × the estimate and, split over its
   * replicas, a device's fair share). The plan holds that step (planning and state moves on the
   * critical path) instead of leaving it to run at the old placement (simulator only: the live
   * executor switches placements at step boundaries). And shadow, within the step, experts the
   * placement cannot absorb (surge-shadows.ts; live too). Named `flexmoe-react` among the built-ins.
   */
  react?: boolean;
  /** The planner's minimum gain (planner.ts `minGain`). */
  minGain?: number;
  /**
   * A plan between steps must also pay on each of this many recent steps alone (planner.ts
   * `eachStep`), not only on their average: on routing whose busiest device moves about from step
   * to step, a plan balanced for the average loses on most real steps and stays. 0 judges plans on
   * the estimate alone, as the paper does. Default: the estimate's `window` with `react`, else 0.
   * Surges are not held back by it: an in-step plan answers the step's own routing.
   */
  eachStep?: number;
  /**
   * Also climb from EPLB's plan for the estimate (planner.ts `globalStart`). Greedy climbs add one
   * replica at a time; where no single one pays but many together do (a mild skew over many
   * devices) this start finds the plan. Off by default: it also costs flexmoe-react on short-lived
   * hot experts, whose in-step plans then find the slots full (docs/policies.md has the figures).
   */
  globalStart?: boolean;
}

/**
 * FlexMoE (SIGMOD 2023): watch a moving average of expert loads; when the balance ratio under the
 * current placement crosses the threshold, plan expand / shrink / migrate greedily under the cost
 * model (planner.ts), charging migration. Tokens of a replicated expert split evenly over the
 * replicas nearest their source (topology-aware; `locality: false` splits over all of them).
 * The estimate and the trigger are the scheduling pipeline's (sched/pipeline.ts): `schedule` asks
 * for the `rise` estimator and hysteresis on the traffic-aware balance ratio; `decide` plans.
 */
export function flexmoePolicy(opts: FlexMoEOptions = {}): Policy {
  const { threshold = 1.1, release = 1.05, window = 5, checkEvery = 1, horizon = 25, locality = true, riseFactor = 1.5, react = false, adaptiveHorizon = true, minGain, globalStart = false } = opts;
  const eachStep = opts.eachStep ?? (react ? window : 0);
  if (!Number.isInteger(eachStep) || eachStep < 0) throw errors.badArgument('flexmoePolicy', `eachStep must be a whole number of steps, 0 or more; got ${eachStep}`);
  // Steps at which the hottest expert last changed, for how long a plan can expect to last.
  const changes: number[] = [];
  let hottest = -1;
  const lifetime = (step: number) => {
    if (!adaptiveHorizon || changes.length < 2) return horizon;
    const gap = (changes.at(-1)! - changes[0]!) / (changes.length - 1);
    return gap > 3 ? horizon : Math.min(horizon, Math.max(1, gap, step - changes.at(-1)!));
  };
  const trafficLoads = (estimate: Float64Array, placement: Placement, devicesPerNode: number) =>
    trafficOf(estimate, placement.replicas(), { devices: placement.devices, devicesPerNode, locality }).load;
  const policy: Policy = {
    name: react ? 'flexmoe-react' : 'flexmoe',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    schedule: {
      estimator: { kind: 'rise', window, riseFactor },
      trigger: { threshold, release },
      checkEvery,
      loads: (estimate, placement, cost) => trafficLoads(estimate, placement, cost.devicesPerNode),
    },
    observe(load) {
      const last = load.history.at(-1)!;
      let top = 0;
      for (let e = 1; e < last.length; e++) if (last[e]! > last[top]!) top = e;
      if (top !== hottest) {
        if (hottest >= 0) changes.push(load.step);
        if (changes.length > 5) changes.shift();
        hottest = top;
      }
    },
    decide(load, placement, cost) {
      if (!load.estimate) throw errors.badArgument('flexmoe', 'decide needs the scheduling pipeline\'s estimate (run the policy through schedule / LayerScheduler, sched/pipeline.ts)');
      return planFlexMoE(load.estimate, placement, cost, { horizon: lifetime(load.step), locality, minGain, globalStart, eachStep: eachStep ? load.history.slice(-eachStep) : [] });
    },
    dispatch(load, placement, cost) {
      // flexmoe-react also shadows, within the step, experts the placement cannot absorb (live too).
      const shadows = react ? surgeShadows(load.current, placement, cost, load.topk, { threshold, locality }) : [];
      return shadows.length ? { mode: 'shadow', shadows, locality } : { mode: 'split', locality };
    },
  };
  if (react) {
    policy.react = (load, placement, cost) => {
      const E = placement.experts;
      const now = expertTotals(load.current, E);
      let total = 0;
      for (let e = 0; e < E; e++) total += now[e]!;
      // With no history yet, the placement stands for even load: a first step's hot expert is a surge too.
      const before = load.history.length ? riseEstimate(load.history, window, riseFactor) : new Float64Array(E).fill(total / E);
      // Only a surge its replicas cannot absorb is worth holding the step for; smaller rises wait
      // for the next plan beside a step. The plan is made from this step's own counts.
      if (!surging(now, before, placement, riseFactor)) return null;
      const tr = trafficOf(now, placement.replicas(), { devices: placement.devices, devicesPerNode: cost.devicesPerNode, locality });
      if (balanceRatio(tr.load) <= threshold) return null;
      // Holding the step must be able to pay: even a perfect plan saves at most the busiest
      // device's excess compute and the whole all-to-all; below the planning charge, carry on.
      const u = unitCosts(cost);
      let busiest = 0, sum = 0;
      for (const v of tr.load) [busiest, sum] = [Math.max(busiest, v), sum + v];
      const bound = (busiest - sum / placement.devices) * u.expertMsPerToken + (cost.training ? 4 : 2) * tr.a2aMs(u);
      if (bound <= reactPlanMs(cost, placement.devices)) return null;
      return planFlexMoE(now, placement, cost, { horizon, locality, minGain, globalStart });
    };
  }
  return policy;
}
