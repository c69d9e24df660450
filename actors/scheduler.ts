/**
 * The scheduler actor: receives each step's routing (expert counts per MoE layer), keeps the load
 * history, asks its placement policy for a plan, prices it with the cost model, and answers with
 * the plan for the trainer to carry out at the next step boundary. Its balance telemetry goes out
 * as actor events (system.events$). Built-in policies are chosen by name; swap one by passing
 * another name (custom policy objects run on the main thread: see trainDistributed's `policy`).
 */
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { migrationMs, stepCost, type CostProfile } from '../src/sched/cost.js';
import { balanceRatio, deviceLoads, Placement, type PlacementOp } from '../src/sched/placement.js';
import { makePolicy } from '../src/sched/policies/index.js';
import type { LoadView, Policy } from '../src/sched/policy.js';

export interface SchedulerArgs {
  policy: string;
  profile: CostProfile;
  devices: number;
  slots: number;
  /** Per MoE layer, replicas per expert at the start. */
  replicas: number[][][];
  topk: number;
}

/**
 * One step's routing: `counts[layer][e]` assignments over all devices; `switchMs`, when the
 * previous answer carried a plan, is how long carrying it out took (measured by the executor).
 */
export interface SchedulerMessage {
  type: 'load';
  step: number;
  counts: number[][];
  switchMs?: number;
}

export interface LayerPlan {
  layer: number;
  ops: PlacementOp[];
  version: number;
  replicas: number[][];
  /** Predicted step time of this layer on the last routing, before and after the plan (ms). */
  predictedMsBefore: number;
  predictedMsAfter: number;
  /** Predicted cost of moving the state (ms). */
  migrationMs: number;
}

export class Scheduler extends Actor {
  static override actorName = 'Scheduler';
  private readonly args: SchedulerArgs;
  private readonly layers: { placement: Placement; policy: Policy; history: Float64Array[] }[];
  /** Learned fixed cost of carrying out a plan (ms), and the predicted state move of the last plan. */
  private overheadMs: number | null = null;
  private lastMigrationMs: number | null = null;

  constructor(args: SchedulerArgs) {
    super();
    this.args = args;
    this.layers = args.replicas.map((reps) => {
      const hosts = Array.from({ length: args.devices }, (_, d) => reps.flatMap((r, e) => (r.includes(d) ? [e] : [])));
      return { placement: new Placement(args.devices, args.slots, reps.length, hosts), policy: makePolicy(args.policy), history: [] };
    });
  }

  receive(msg: SchedulerMessage, ctx: ActorContext): LayerPlan[] {
    const { devices: D, topk } = this.args;
    if (msg.switchMs !== undefined && this.lastMigrationMs !== null) {
      // What carrying out the last plan cost beyond moving its state, smoothed: plans must pay for it.
      const extra = Math.max(0, msg.switchMs - this.lastMigrationMs);
      this.overheadMs = this.overheadMs === null ? extra : 0.5 * this.overheadMs + 0.5 * extra;
      this.lastMigrationMs = null;
    }
    const profile = { ...this.args.profile, planOverheadMs: this.overheadMs ?? this.args.profile.planOverheadMs };
    const plans: LayerPlan[] = [];
    msg.counts.forEach((counts, l) => {
      const layer = this.layers[l]!;
      const totals = Float64Array.from(counts);
      const current = [...Array(D)].map(() => totals.map((v) => v / D));
      const view: LoadView = { step: msg.step + 1, history: layer.history, current, topk };
      layer.history.push(totals);
      if (layer.history.length > 128) layer.history.shift();
      ctx.emit({ type: 'balance', step: msg.step, layer: l, ratio: balanceRatio(deviceLoads(totals, layer.placement)) });
      const ops = layer.policy.decide(view, layer.placement, profile);
      if (!ops.length) return;
      const dispatch = layer.policy.dispatch(view, layer.placement, profile);
      const before = stepCost(current, layer.placement, profile, dispatch, topk).stepMs;
      const move = migrationMs(ops, layer.placement, profile);
      layer.placement.applyBatch(ops);
      const after = stepCost(current, layer.placement, profile, dispatch, topk).stepMs;
      plans.push({ layer: l, ops, version: layer.placement.version, replicas: layer.placement.replicas(), predictedMsBefore: before, predictedMsAfter: after, migrationMs: move });
    });
    if (plans.length) this.lastMigrationMs = Math.max(...plans.map((p) => p.migrationMs));
    return plans;
  }

  /** A scheduler is rebuilt from its arguments (its history refills within a window). */
  override snapshot(): unknown {
    return { args: this.args };
  }
}
registerActor(Scheduler);
