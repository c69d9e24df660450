import { filter, groupBy, map, mergeMap, Subject, tap, type Observable, type OperatorFunction } from 'rxjs';
import type { CostProfile } from './cost.js';
import { balance } from './operators/balance.js';
import { trigger, type TriggerState } from './operators/trigger.js';
import { windowLoad, type LayerLoad, type LoadEstimate } from './operators/window-load.js';
import type { Placement, PlacementOp } from './placement.js';
import type { Policy } from './policy.js';

/** A plan the pipeline decided for one layer, before `view.step`. */
export interface Decision extends LoadEstimate {
  ops: PlacementOp[];
  /** The estimate's balance ratio under the placement it was planned from. */
  ratio: number;
}

export interface ScheduleOptions {
  /** The policy instance of each layer (policies keep state: one per layer). */
  policyOf: (layer: number) => Policy;
  /** The placement each layer plans from, read when a view arrives. */
  placementOf: (layer: number) => Placement;
  /** The cost profile to plan with, read when a view arrives (a live scheduler learns it). */
  profile: () => CostProfile;
  /** Whether to plan at all now (a live scheduler waits for what its last plan cost); views still update the estimate. */
  ready?: () => boolean;
  /** Each layer's trigger state, when the caller arms it too (an in-step plan, `Policy.react`, arms it). */
  triggerOf?: (layer: number) => TriggerState;
}

/**
 * The scheduling pipeline, per layer: windowLoad (the policy's estimator) → the check interval →
 * `observe` → balance → trigger (hysteresis, for policies that ask for one) → plan (`decide`).
 * Emits a decision for every plan with ops. Synchronous: a view in gives its decision out before
 * `next` returns, so the simulator, live training and serving all run this one path.
 *
 * @example
 * views$.pipe(schedule({ policyOf, placementOf, profile: () => cost })).subscribe(carryOut)
 */
export function schedule(o: ScheduleOptions): OperatorFunction<LayerLoad, Decision> {
  return (views$) =>
    views$.pipe(
      groupBy((v) => v.layer),
      mergeMap((layer$) => {
        const layer = layer$.key;
        const policy = o.policyOf(layer);
        const s = policy.schedule ?? {};
        const state: TriggerState = o.triggerOf?.(layer) ?? { armed: false };
        const every = s.checkEvery ?? 1;
        return layer$.pipe(
          filter((v) => v.view.history.length > 0),
          windowLoad(s.estimator ?? { kind: 'last' }, o.placementOf),
          filter((e) => e.view.step % every === 0 && (o.ready?.() ?? true)),
          tap((e) => policy.observe?.({ ...e.view, estimate: e.load })),
          balance(o.placementOf, s.loads ? (est, p) => s.loads!(est, p, o.profile()) : undefined),
          s.trigger ? trigger(s.trigger, state) : (x$) => x$,
          map((b): Decision => {
            const ops = policy.decide({ ...b.view, estimate: b.load }, o.placementOf(layer), o.profile());
            // Nothing pays for itself: stand down until the balance crosses the threshold again.
            if (s.trigger && ops.length === 0) state.armed = false;
            return { layer: b.layer, view: b.view, load: b.load, ratio: b.ratio, ops };
          }),
          filter((d) => d.ops.length > 0),
        );
      }),
    );
}

/**
 * The pipeline driven one view at a time, for one layer: what the simulator and tests use to step a
 * policy, the same operators as the live scheduler's.
 */
export class LayerScheduler {
  private readonly views = new Subject<LayerLoad>();
  private last: PlacementOp[] = [];
  private readonly state: TriggerState = { armed: false };
  readonly decisions$: Observable<Decision>;

  constructor(policy: Policy, placementOf: () => Placement, profile: () => CostProfile) {
    this.decisions$ = this.views.pipe(schedule({ policyOf: () => policy, placementOf, profile, triggerOf: () => this.state }));
    this.decisions$.subscribe((d) => (this.last = d.ops));
  }

  /** Arms the trigger (after an in-step plan, the next steps refine it from history). */
  arm(): void {
    this.state.armed = true;
  }

  /** The ops the policy decides before `view.step` (empty when the pipeline does not plan). */
  next(view: LayerLoad['view']): PlacementOp[] {
    this.last = [];
    this.views.next({ layer: 0, view });
    return this.last;
  }
}
