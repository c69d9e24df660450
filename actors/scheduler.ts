/**
 * The scheduler actor: an RxJS pipeline over load messages. In training, each device's gates tell
 * it what they routed (`gate-load`, device to device over the rings); those form `load$`, folded
 * into complete steps (foldSteps), turned into what a policy sees (loadViews) and run through the
 * scheduling pipeline (sched/pipeline.ts: windowLoad → balance → trigger → plan with the policy's
 * `decide`). A decision is priced with the cost model, emitted as an event and kept for the
 * executor: at the next step (or pass) boundary the driver tells the scheduler to carry the plans
 * out, and it does so through the runtime's placement primitives on the expert actors it was
 * given: clone onto devices that gain a replica, migrate where a replica moves, stop where one goes.
 * The driver's `measured` message brings each step's measured time; planning for a step waits for
 * both. Serving, which sums routing over windows of passes, sends that sum as one `load`.
 * Policies are chosen by name: a built-in, or one of your own registered with `registerPolicy` in
 * a module the devices load; policy objects passed as such run on the main thread instead (see
 * trainDistributed's `policy`), through the same pipeline.
 */
import { Subject } from 'rxjs';
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { errors } from '../src/errors.js';
import { stepCost, type CostProfile } from '../src/sched/cost.js';
import { migrationMs } from '../src/sched/plan-cost.js';
import { balanceRatio, deviceLoads, Placement, type PlacementOp } from '../src/sched/placement.js';
import { makePolicy } from '../src/sched/policies/index.js';
import type { Policy } from '../src/sched/policy.js';
import { foldSteps, loadViews, type LoadEvent, type StepLoad } from '../src/sched/operators/index.js';
import { schedule, type Decision } from '../src/sched/pipeline.js';
import { applyPlacement, type PlacementMoves } from '../src/train/moe-actors.js';
import type { MoEActors } from './moe-wiring.js';

export interface SchedulerArgs {
  policy: string;
  profile: CostProfile;
  devices: number;
  slots: number;
  /** Per MoE layer, replicas per expert at the start. */
  replicas: number[][][];
  /** Devices whose gates report each step (`gate-load`); default `devices`. */
  sources?: number;
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
  /** What one device's gate of `layer` routed at `step` (tell): the pipeline's `load$`. */
  | { type: 'gate-load'; step: number; layer: number; source: number; counts: number[] }
  /**
   * The driver's measurement of `step` (tell). Once every gate has reported that step too, the
   * scheduler plans and emits `{ type: 'planned', step, plans }` (system.events$); a tell, so the
   * gates' reports, queued behind it, are never blocked by it. `stepMs`: the measured time of that
   * step (or pass), sent for steps that neither switched nor followed a switch.
   */
  | { type: 'measured'; step: number; switchMs?: number; stepMs?: number }
  /** A step's routing summed by the driver (`counts[layer][e]` over all devices) with its measurement, in one ask. */
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
  private readonly layers: { placement: Placement; policy: Policy }[];
  /** Learned fixed cost of carrying out a plan (ms), and the predicted state move of the last plan. */
  private overheadMs: number | null = null;
  private lastMigrationMs: number | null = null;
  /** Loads still to wait for the cost of plans just carried out before planning again. */
  private awaitingCost = 0;
  private waiting = false;
  /** Learned per-layer step time the cost model does not price (`unmodelledMs`), smoothed; null until a step is measured. */
  private unmodelledMs: number | null = null;
  /** The profile plans are made with now (the given one, with what has been learned). */
  private profile: CostProfile;
  /** The placement carried out (the plans answered run ahead of it until the next boundary), and as Placements. */
  private applied: number[][][];
  private appliedPlacements: Placement[];
  private pending: LayerPlan[] = [];
  private actors: MoEActors | null;
  private ctx: ActorContext | null = null;
  /** The gates' load messages, and complete steps (every layer and source) entering the pipeline. */
  private readonly load$ = new Subject<LoadEvent>();
  private readonly steps$ = new Subject<StepLoad>();
  /** Per step: its folded layers, its measurement, and the driver waiting for its plans. */
  private readonly joins = new Map<number, { layers: StepLoad[]; measured?: Extract<SchedulerMessage, { type: 'measured' }>; answer?: (plans: LayerPlan[]) => void }>();
  private decided: LayerPlan[] = [];

  constructor(args: SchedulerArgs) {
    super();
    this.args = args;
    this.applied = args.replicas;
    this.appliedPlacements = args.replicas.map((reps) => this.placementOf(reps));
    this.actors = args.actors ?? null;
    this.profile = args.profile;
    this.layers = args.replicas.map((reps) => ({ placement: this.placementOf(reps), policy: makePolicy(args.policy) }));
    this.load$.pipe(foldSteps(args.sources ?? args.devices)).subscribe((s) => this.folded(s));
    this.steps$
      .pipe(
        loadViews(128, args.topk),
        schedule({ policyOf: (l) => this.layers[l]!.policy, placementOf: (l) => this.layers[l]!.placement, profile: () => this.profile, ready: () => !this.waiting }),
      )
      .subscribe((d) => this.execute(d));
  }

  private placementOf(reps: number[][]): Placement {
    const { devices, slots } = this.args;
    const hosts = Array.from({ length: devices }, (_, d) => reps.flatMap((r, e) => (r.includes(d) ? [e] : [])));
    return new Placement(devices, slots, reps.length, hosts);
  }

  override started(ctx: ActorContext): void {
    this.ctx = ctx;
  }

  receive(msg: Extract<SchedulerMessage, { type: 'gate-load' }>, ctx: ActorContext): void;
  receive(msg: Extract<SchedulerMessage, { type: 'load' }>, ctx: ActorContext): LayerPlan[];
  receive(msg: Extract<SchedulerMessage, { type: 'measured' }>, ctx: ActorContext): void;
  receive(msg: Extract<SchedulerMessage, { type: 'carry-out' }>, ctx: ActorContext): Promise<CarriedOut>;
  receive(msg: SchedulerMessage, ctx: ActorContext): void | LayerPlan[] | Promise<CarriedOut> {
    this.ctx = ctx;
    if (msg.type === 'carry-out') return this.carryOut(msg, ctx);
    if (msg.type === 'gate-load') return this.load$.next({ step: msg.step, layer: msg.layer, source: msg.source, counts: msg.counts });
    if (msg.type === 'measured') {
      const j = this.join(msg.step);
      j.measured = msg;
      j.answer = (plans) => ctx.emit({ type: 'planned', step: msg.step, plans });
      return this.ready(msg.step);
    }
    // Summed by the driver: the step as if each device had routed an equal share.
    const D = this.args.devices;
    const j = this.join(msg.step);
    j.layers = msg.counts.map((c, layer) => ({ step: msg.step, layer, counts: [...Array(D)].map(() => Float64Array.from(c, (v) => v / D)) }));
    j.measured = { type: 'measured', step: msg.step, switchMs: msg.switchMs, stepMs: msg.stepMs };
    let plans: LayerPlan[] = [];
    j.answer = (p) => (plans = p);
    this.ready(msg.step);
    return plans;
  }

  private join(step: number) {
    let j = this.joins.get(step);
    if (!j) this.joins.set(step, (j = { layers: [] }));
    return j;
  }

  /** A layer's step complete; a step run again after a crash replaces what its first run reported. */
  private folded(s: StepLoad): void {
    const j = this.join(s.step);
    j.layers = j.layers.filter((x) => x.layer !== s.layer);
    j.layers.push(s);
    this.ready(s.step);
  }

  /** A step whose every layer has been folded and whose measurement has arrived goes through the pipeline. */
  private ready(step: number): void {
    const j = this.joins.get(step);
    if (!j || !j.measured || j.layers.length < this.layers.length) return;
    this.joins.delete(step);
    const counts = [...j.layers].sort((a, b) => a.layer - b.layer).map((s) => {
      const totals = new Float64Array(s.counts[0]?.length ?? 0);
      for (const row of s.counts) for (let e = 0; e < totals.length; e++) totals[e]! += row[e]!;
      return totals;
    });
    this.learn(j.measured, counts);
    counts.forEach((totals, l) => this.ctx?.emit({ type: 'balance', step, layer: l, ratio: balanceRatio(deviceLoads(totals, this.layers[l]!.placement)) }));
    this.decided = [];
    for (const s of [...j.layers].sort((a, b) => a.layer - b.layer)) this.steps$.next(s);
    const plans = this.decided;
    if (plans.length) this.lastMigrationMs = Math.max(...plans.map((p) => p.migrationMs));
    this.pending.push(...plans);
    j.answer?.(plans);
  }

  /** The executor's side of a decision: priced, applied to the planning placement, announced, kept until carried out. */
  private execute(d: Decision): void {
    const layer = this.layers[d.layer]!;
    const { topk } = this.args;
    const profile = this.profile;
    const current = d.view.current;
    const dispatch = layer.policy.dispatch(d.view, layer.placement, profile);
    const before = stepCost(current, layer.placement, profile, dispatch, topk).stepMs;
    const move = migrationMs(d.ops, layer.placement, profile);
    layer.placement.applyBatch(d.ops);
    const after = stepCost(current, layer.placement, profile, dispatch, topk).stepMs;
    const plan: LayerPlan = { layer: d.layer, ops: d.ops, version: layer.placement.version, replicas: layer.placement.replicas(), predictedMsBefore: before, predictedMsAfter: after, migrationMs: move };
    this.ctx?.emit({ type: 'decision', step: d.view.step - 1, ratio: d.ratio, ...plan });
    this.decided.push(plan);
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
    this.appliedPlacements = next.map((reps) => this.placementOf(reps));
    if (plans.length) this.awaitingCost = 2;
    return { replicas: next, actors, moves, plans };
  }

  /** What the measurement of a step teaches: the cost of the last plan, the time the model leaves out, whether to plan now. */
  private learn(m: { switchMs?: number; stepMs?: number }, counts: Float64Array[]): void {
    const learn = this.args.learn !== false;
    if (learn && m.switchMs !== undefined && this.lastMigrationMs !== null) {
      // What carrying out the last plan cost beyond moving its state, smoothed: plans must pay for it.
      const extra = Math.max(0, m.switchMs - this.lastMigrationMs);
      this.overheadMs = this.overheadMs === null ? extra : 0.5 * this.overheadMs + 0.5 * extra;
      this.lastMigrationMs = null;
    }
    this.waiting = m.switchMs === undefined && this.awaitingCost > 0;
    this.awaitingCost = this.waiting ? this.awaitingCost - 1 : 0;
    if (learn && m.stepMs !== undefined) this.learnUnmodelled(m.stepMs, counts);
    this.profile = { ...this.args.profile, planOverheadMs: this.overheadMs ?? this.args.profile.planOverheadMs, unmodelledMs: this.unmodelledMs ?? this.args.profile.unmodelledMs };
  }

  /**
   * What a measured step took beyond what the cost model predicts for it under the placement in
   * force, per layer, smoothed (half the weight on the newest): the part of the step no placement
   * changes, against which plans are judged.
   */
  private learnUnmodelled(stepMs: number, counts: Float64Array[]): void {
    const { devices: D, topk, profile } = this.args;
    let predicted = 0;
    counts.forEach((c, l) => {
      const current = [...Array(D)].map(() => Float64Array.from(c, (v) => v / D));
      predicted += stepCost(current, this.appliedPlacements[l]!, profile, { mode: 'split', locality: true }, topk).stepMs;
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
