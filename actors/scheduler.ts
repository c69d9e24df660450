/**
 * The scheduler actor: receives each step's routing (expert counts per MoE layer), keeps the load
 * history, asks its placement policy for a plan, prices it with the cost model, and answers with
 * the plan. At the next step (or pass) boundary the driver tells it to carry the plans out, and it
 * does so through the runtime's placement primitives on the expert actors it was given: clone onto
 * devices that gain a replica, migrate where a replica moves, stop where one goes. Its balance
 * telemetry goes out as actor events (system.events$). Policies are chosen by name: a built-in, or
 * one of your own registered with `registerPolicy` in a module the devices load; policy objects
 * passed as such run on the main thread instead (see trainDistributed's `policy`).
 */
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { errors } from '../src/errors.js';
import { stepCost, type CostProfile } from '../src/sched/cost.js';
import { migrationMs } from '../src/sched/plan-cost.js';
import { balanceRatio, deviceLoads, Placement, type PlacementOp } from '../src/sched/placement.js';
import { makePolicy } from '../src/sched/policies/index.js';
import type { LoadView, Policy } from '../src/sched/policy.js';
import { applyPlacement, type PlacementMoves } from '../src/train/moe-actors.js';
import type { MoEActors } from './moe-wiring.js';

export interface SchedulerArgs {
  policy: string;
  profile: CostProfile;
  devices: number;
  slots: number;
  /** Per MoE layer, replicas per expert at the start. */
  replicas: number[][][];
  topk: number;
  /** The gate and expert actors carrying out the placement (needed to carry out plans). */
  actors?: MoEActors;
  /**
   * Learn from measured times (default true): what carrying out a plan cost and the step time the
   * cost model does not price. False: plan on `profile` as given, so plans depend on routing alone.
   */
  learn?: boolean;
}

/**
 * One step's routing: `counts[layer][e]` assignments over all devices; `switchMs`, once the
 * executor has measured it, what carrying out the last plans cost: the switch itself and (training)
 * the excess of the first step after it over a normal step. After carrying out plans the scheduler
 * plans again only when that cost has arrived (or after two loads without it), so no plan is priced
 * without knowing what the last one really cost.
 */
export type SchedulerMessage =
  /** `stepMs`: the measured time of that step (or pass), sent for steps that neither switched nor followed a switch. */
  | { type: 'load'; step: number; counts: number[][]; switchMs?: number; stepMs?: number }
  /**
   * Carry out the first `count` plans answered and not yet carried out (the ones that have reached
   * the driver; at a boundary, when no expert is computing); or, with `replicas`, switch to that
   * placement (pinned by hand) and plan from it from now on.
   */
  | { type: 'carry-out'; count?: number; replicas?: number[][][] };

/** What carrying out did: the placement now in force, its actors, and the plans it covered. */
export interface CarriedOut {
  replicas: number[][][];
  actors: MoEActors;
  moves: PlacementMoves[];
  plans: LayerPlan[];
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
  /** Loads still to wait for the cost of plans just carried out before planning again. */
  private awaitingCost = 0;
  /** Learned per-layer step time the cost model does not price (`unmodelledMs`), smoothed; null until a step is measured. */
  private unmodelledMs: number | null = null;
  /** The placement carried out (the plans answered run ahead of it until the next boundary). */
  private applied: number[][][];
  private pending: LayerPlan[] = [];
  private actors: MoEActors | null;

  constructor(args: SchedulerArgs) {
    super();
    this.args = args;
    this.applied = args.replicas;
    this.actors = args.actors ?? null;
    this.layers = args.replicas.map((reps) => ({ placement: this.placementOf(reps), policy: makePolicy(args.policy), history: [] }));
  }

  private placementOf(reps: number[][]): Placement {
    const { devices, slots } = this.args;
    const hosts = Array.from({ length: devices }, (_, d) => reps.flatMap((r, e) => (r.includes(d) ? [e] : [])));
    return new Placement(devices, slots, reps.length, hosts);
  }

  receive(msg: Extract<SchedulerMessage, { type: 'load' }>, ctx: ActorContext): LayerPlan[];
  receive(msg: Extract<SchedulerMessage, { type: 'carry-out' }>, ctx: ActorContext): Promise<CarriedOut>;
  receive(msg: SchedulerMessage, ctx: ActorContext): LayerPlan[] | Promise<CarriedOut> {
    if (msg.type === 'carry-out') return this.carryOut(msg, ctx);
    return this.plan(msg, ctx);
  }

  private async carryOut(msg: Extract<SchedulerMessage, { type: 'carry-out' }>, ctx: ActorContext): Promise<CarriedOut> {
    if (!this.actors) throw errors.badArgument('Scheduler carry-out', 'the scheduler was started without the expert actors (SchedulerArgs.actors)');
    let next = this.applied.map((l) => l.map((r) => [...r]));
    let plans: LayerPlan[] = [];
    if (msg.replicas) {
      next = msg.replicas;
      // Pinned by hand: plan from it from now on; plans not yet carried out are void.
      this.layers.forEach((layer, l) => (layer.placement = this.placementOf(next[l]!)));
      this.pending = [];
    } else {
      plans = this.pending.splice(0, msg.count ?? 0);
      for (const p of plans) next[p.layer] = p.replicas;
    }
    const { actors, moves } = await applyPlacement(ctx, this.actors, this.applied, next);
    this.actors = actors;
    this.applied = next;
    if (plans.length) this.awaitingCost = 2;
    return { replicas: next, actors, moves, plans };
  }

  private plan(msg: Extract<SchedulerMessage, { type: 'load' }>, ctx: ActorContext): LayerPlan[] {
    const { devices: D, topk } = this.args;
    const learn = this.args.learn !== false;
    if (learn && msg.switchMs !== undefined && this.lastMigrationMs !== null) {
      // What carrying out the last plan cost beyond moving its state, smoothed: plans must pay for it.
      const extra = Math.max(0, msg.switchMs - this.lastMigrationMs);
      this.overheadMs = this.overheadMs === null ? extra : 0.5 * this.overheadMs + 0.5 * extra;
      this.lastMigrationMs = null;
    }
    const waiting = msg.switchMs === undefined && this.awaitingCost > 0;
    this.awaitingCost = waiting ? this.awaitingCost - 1 : 0;
    if (learn && msg.stepMs !== undefined) this.learnUnmodelled(msg.stepMs, msg.counts);
    const profile = { ...this.args.profile, planOverheadMs: this.overheadMs ?? this.args.profile.planOverheadMs, unmodelledMs: this.unmodelledMs ?? this.args.profile.unmodelledMs };
    const plans: LayerPlan[] = [];
    msg.counts.forEach((counts, l) => {
      const layer = this.layers[l]!;
      const totals = Float64Array.from(counts);
      const current = [...Array(D)].map(() => totals.map((v) => v / D));
      const view: LoadView = { step: msg.step + 1, history: layer.history, current, topk };
      layer.history.push(totals);
      if (layer.history.length > 128) layer.history.shift();
      ctx.emit({ type: 'balance', step: msg.step, layer: l, ratio: balanceRatio(deviceLoads(totals, layer.placement)) });
      if (waiting) return;
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
    this.pending.push(...plans);
    return plans;
  }

  /**
   * What a measured step took beyond what the cost model predicts for it under the placement in
   * force, per layer, smoothed (half the weight on the newest): the part of the step no placement
   * changes, against which plans are judged.
   */
  private learnUnmodelled(stepMs: number, counts: number[][]): void {
    const { devices: D, topk, profile } = this.args;
    let predicted = 0;
    counts.forEach((c, l) => {
      const current = [...Array(D)].map(() => Float64Array.from(c, (v) => v / D));
      predicted += stepCost(current, this.placementOf(this.applied[l]!), profile, { mode: 'split', locality: true }, topk).stepMs;
    });
    const perLayer = Math.max(0, stepMs - predicted) / Math.max(1, counts.length);
    this.unmodelledMs = this.unmodelledMs === null ? perLayer : 0.5 * this.unmodelledMs + 0.5 * perLayer;
  }

  /** A scheduler is rebuilt from its arguments and the placement in force (its history refills within a window). */
  override snapshot(): unknown {
    return { args: { ...this.args, replicas: this.applied, actors: this.actors ?? undefined } };
  }

  static override restore(snapshot: unknown): Actor {
    return new Scheduler((snapshot as { args: SchedulerArgs }).args);
  }
}
registerActor(Scheduler);
