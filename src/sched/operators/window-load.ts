import { map, type OperatorFunction } from 'rxjs';
import type { Placement } from '../placement.js';
import { windowMean, type LoadView } from '../policy.js';

/**
 * How recent steps become one per-expert load estimate: a moving average over `window` steps
 * (EPLB), an exponential moving average, the last step alone (SYMI-style), or FlexMoE's `rise`:
 * the moving average, except that an expert whose last step exceeds it by `riseFactor` is taken
 * at its last step, and a surge the placement cannot absorb makes the whole last step the estimate
 * (a new regime: the rest of the ranking has usually moved too).
 */
export type Estimator =
  | { kind: 'mean'; window: number }
  | { kind: 'ema'; alpha: number }
  | { kind: 'last' }
  | { kind: 'rise'; window: number; riseFactor: number };

/** One layer's routing as the scheduling pipeline carries it: what the policy will see when it plans for `view.step`. */
export interface LayerLoad {
  layer: number;
  view: LoadView;
}

export interface LoadEstimate extends LayerLoad {
  /** Estimated assignments per expert per step. */
  load: Float64Array;
}

/**
 * Per-expert load estimates from each view's history (oldest first, the newest observed step
 * last). Views with no history pass nothing: there is nothing to plan from yet. `placementOf` is
 * needed by `rise` (whether a surge fits in an expert's replicas).
 *
 * @example
 * views$.pipe(windowLoad({ kind: 'mean', window: 2 })) // histories [2], [2,4], [2,4,6] → estimates 2, 3, 5
 */
export function windowLoad(estimator: Estimator, placementOf?: (layer: number) => Placement): OperatorFunction<LayerLoad, LoadEstimate> {
  return map((l) => ({ ...l, load: estimateLoad(estimator, l.view.history, placementOf?.(l.layer)) }));
}

export function estimateLoad(estimator: Estimator, history: readonly Float64Array[], placement?: Placement): Float64Array {
  const last = history.at(-1);
  if (!last) return new Float64Array();
  const E = last.length;
  if (estimator.kind === 'last') return Float64Array.from(last);
  if (estimator.kind === 'mean') return windowMean(history, estimator.window, E);
  if (estimator.kind === 'ema') {
    const a = estimator.alpha, out = Float64Array.from(history[0]!);
    for (let s = 1; s < history.length; s++) for (let e = 0; e < E; e++) out[e] = a * history[s]![e]! + (1 - a) * out[e]!;
    return out;
  }
  const { window, riseFactor } = estimator;
  if (placement && history.length > 1 && surging(last, windowMean(history.slice(0, -1), window, E), placement, riseFactor)) return Float64Array.from(last);
  return riseEstimate(history, window, riseFactor);
}

/** The moving average over `window` steps, each expert raised to its last step where that step exceeds the average by `riseFactor`. */
export function riseEstimate(history: readonly Float64Array[], window: number, riseFactor: number): Float64Array {
  const E = history.at(-1)?.length ?? 0;
  const out = windowMean(history, window, E);
  const last = history.at(-1);
  if (last) for (let e = 0; e < E; e++) if (last[e]! > riseFactor * out[e]!) out[e] = last[e]!;
  return out;
}

/**
 * Whether some expert's load in `now` exceeds `riseFactor` × `before` and, split over its
 * replicas, one device's fair share of the total: a surge its replicas cannot absorb.
 */
export function surging(now: Float64Array, before: Float64Array, placement: Placement, riseFactor: number): boolean {
  let total = 0;
  for (const v of now) total += v;
  const fair = total / placement.devices;
  for (let e = 0; e < placement.experts; e++) if (now[e]! > riseFactor * before[e]! && now[e]! / placement.replicasOf(e).length > fair) return true;
  return false;
}
