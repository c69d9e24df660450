import { stepCost, unitCosts, type CostProfile } from './cost.js';
import { migrationMs, reactPlanMs } from './plan-cost.js';
import type { Placement, PlacementOp } from './placement.js';
import { makePolicy, runsInScheduler } from './policies/index.js';
import { expertTotals, type LoadView, type Policy } from './policy.js';
import { LayerScheduler } from './pipeline.js';
import type { RoutingSource } from './workload.js';

export interface SimulationOptions {
  source: RoutingSource;
  devices: number;
  /** Expert slots per device (the same budget for every policy). */
  slots: number;
  profile: CostProfile;
  /** Policy names (built-ins) or policy factories (one instance is made per layer). */
  policies: (string | (() => Policy))[];
  steps?: number;
  /** Steps of per-expert history kept for policies. */
  historyLimit?: number;
  /**
   * Steps between a plan and the step it first runs in (default 1, as live). Live, the scheduler
   * plans from step k's routing beside step k+1 and the plan is carried out at the boundary after
   * it: in force from step k+2. Here a policy deciding before step s has seen steps up to s−1, so
   * a lag of 1 puts its plan in force from s+1. 0 is the idealised executor that carries a plan
   * out before the very step it was planned for. Bounds (`free`, `bound`) and in-step plans
   * (`react`) are never lagged.
   */
  planLag?: 0 | 1;
}

export interface PolicyReport {
  policy: string;
  meanStepMs: number;
  p95StepMs: number;
  balanceRatio: number;
  droppedFraction: number;
  replans: number;
  migratedBytes: number;
  planMsMean: number;
  planMsMax: number;
  /** Per-step series, for charts. */
  stepMs: number[];
  balance: number[];
  replanSteps: number[];
}

interface Run {
  name: string;
  /** A built-in (or registered) policy the live scheduler actor runs: its work each step costs `profile.scheduleMs`. */
  scheduled: boolean;
  /** `placement`: what the policy plans from (its plans applied at once); `executed`: what runs (plans applied after the lag). */
  layers: { policy: Policy; scheduler: LayerScheduler; placement: Placement; executed: Placement; pending: PlacementOp[]; history: Float64Array[] }[];
  stepMs: number[];
  balance: number[];
  replanSteps: number[];
  planMs: number[];
  dropped: number;
  assignments: number;
  migratedBytes: number;
}

/**
 * Steps every policy through the same routing in lockstep, each with its own placement per layer,
 * and prices each step end to end with the cost model (dense part, expert compute, all-to-all,
 * replica all-reduce, plus the migration of any re-plan, charged to the step it happens in; a
 * policy's in-step plan (`Policy.react`) also charges `cost.reactPlanMs` for its planning, and a
 * policy the live scheduler actor runs, `cost.scheduleMs` a step for that actor's work).
 * Deterministic: the routing source is seeded and policies are pure given their history.
 */
export function simulate(opts: SimulationOptions): { reports: PolicyReport[]; speedup: Record<string, number> } {
  const { source, devices: D, slots: S, profile } = opts;
  const steps = opts.steps ?? source.steps;
  const historyLimit = opts.historyLimit ?? 128;
  const lag = opts.planLag ?? 1;
  const u = unitCosts(profile);
  const runs: Run[] = opts.policies.map((p) => {
    const make = typeof p === 'string' ? () => makePolicy(p) : p;
    const layers = Array.from({ length: source.layers }, () => {
      const policy = make();
      const placement = policy.initial(D, S, source.experts);
      const layer = { policy, scheduler: null as unknown as LayerScheduler, placement, executed: placement.clone(), pending: [] as PlacementOp[], history: [] as Float64Array[] };
      // The live scheduler's pipeline; it plans from whatever placement the layer holds now.
      layer.scheduler = new LayerScheduler(policy, () => layer.placement, () => profile);
      return layer;
    });
    return { name: typeof p === 'string' ? p : layers[0]!.policy.name, scheduled: typeof p === 'string' && runsInScheduler(p), layers, stepMs: [], balance: [], replanSteps: [], planMs: [], dropped: 0, assignments: 0, migratedBytes: 0 };
  });
  for (let step = 0; step < steps; step++) {
    const counts = source.at(step, D);
    for (const run of runs) {
      let ms = 0, br = 0, planned = false;
      run.layers.forEach((layer, l) => {
        const current = counts[l]!;
        const view: LoadView = { step, history: layer.history, current, topk: source.topk };
        const free = layer.policy.free === true;
        const bound = free || layer.policy.bound === true;
        // Carries ops out on what runs: the move is charged to this step.
        const carryOut = (ops: PlacementOp[]) => {
          if (!ops.length) return;
          if (!free) ms += migrationMs(ops, layer.executed, profile);
          run.migratedBytes += ops.filter((o) => o.op !== 'shrink').length * u.paramBytes * (profile.training ? profile.stateBytesFactor : 1);
          layer.executed.applyBatch(ops);
          planned = true;
        };
        // The plan made a step ago reaches this step's boundary.
        carryOut(layer.pending);
        layer.pending = [];
        const t0 = performance.now();
        const ops = layer.scheduler.next(view);
        run.planMs.push(performance.now() - t0);
        if (ops.length) {
          layer.placement.applyBatch(ops);
          if (lag === 0 || bound) carryOut(ops);
          else layer.pending = ops;
        }
        if (layer.policy.react) {
          // After gating, on the critical path: the step waits for this plan, made on what runs.
          const t1 = performance.now();
          const reacted = layer.policy.react(view, layer.executed, profile);
          if (reacted) {
            if (reacted.length) layer.scheduler.arm(); // the next steps refine the plan from history as usual
            run.planMs.push(performance.now() - t1);
            if (!bound) ms += reactPlanMs(profile, D);
            carryOut(reacted);
            layer.placement = layer.executed.clone();
            layer.pending = [];
          }
        }
        const c = stepCost(current, layer.executed, profile, layer.policy.dispatch(view, layer.executed, profile), source.topk);
        // The layer's time no placement changes (measured by calibrate; 0 when the profile lacks it).
        ms += c.stepMs + (profile.unmodelledMs ?? 0);
        br = Math.max(br, c.balanceRatio);
        run.dropped += c.droppedTokens;
        const totals = expertTotals(current, source.experts);
        for (const v of totals) run.assignments += v;
        layer.history.push(totals);
        if (layer.history.length > historyLimit) layer.history.shift();
      });
      // Live, the scheduler actor's own work shares a device's core where none is spare (profile.scheduleMs).
      if (run.scheduled) ms += profile.scheduleMs ?? 0;
      run.stepMs.push(ms);
      run.balance.push(br);
      if (planned) run.replanSteps.push(step);
    }
  }
  const reports = runs.map((r): PolicyReport => {
    const sorted = [...r.stepMs].sort((a, b) => a - b);
    return {
      policy: r.name,
      meanStepMs: mean(r.stepMs),
      p95StepMs: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!,
      balanceRatio: mean(r.balance),
      droppedFraction: r.assignments ? r.dropped / r.assignments : 0,
      replans: r.replanSteps.length,
      migratedBytes: r.migratedBytes,
      planMsMean: mean(r.planMs),
      planMsMax: Math.max(0, ...r.planMs),
      stepMs: r.stepMs,
      balance: r.balance,
      replanSteps: r.replanSteps,
    };
  });
  return { reports, speedup: speedups(reports) };
}

/** FlexMoE's and flexmoe-react's mean step against every other policy's (`flexmoe/static`: how many times faster). */
export function speedups(reports: readonly PolicyReport[]): Record<string, number> {
  const speedup: Record<string, number> = {};
  for (const name of ['flexmoe', 'flexmoe-react']) {
    const flex = reports.find((r) => r.policy === name);
    if (flex) for (const r of reports) if (r !== flex && r.policy !== 'flexmoe-react') speedup[`${name}/${r.policy}`] = r.meanStepMs / flex.meanStepMs;
  }
  return speedup;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
