import { map, scan, type OperatorFunction } from 'rxjs';
import type { StepLoad } from './fold-steps.js';

/** How recent steps become one per-expert load estimate. */
export type Estimator = { kind: 'mean'; window: number } | { kind: 'ema'; alpha: number } | { kind: 'last' };

export interface LoadEstimate {
  step: number;
  layer: number;
  /** Estimated assignments per expert per step. */
  load: Float64Array;
}

/**
 * Per-expert load estimates from complete steps: a moving average over `window` steps (FlexMoE,
 * EPLB), an exponential moving average, or the last step alone (SYMI-style). Layers are tracked
 * separately.
 *
 * @example
 * steps$.pipe(windowLoad({ kind: 'mean', window: 2 })) // loads 2, 4, 6 → estimates 2, 3, 5
 */
export function windowLoad(estimator: Estimator): OperatorFunction<StepLoad, LoadEstimate> {
  type State = Map<number, { recent: Float64Array[]; ema: Float64Array | null }>;
  return (source$) =>
    source$.pipe(
      scan(
        (acc: { state: State; out: LoadEstimate | null }, s: StepLoad) => {
          const totals = new Float64Array(s.counts[0]?.length ?? 0);
          for (const row of s.counts) for (let e = 0; e < totals.length; e++) totals[e]! += row[e]!;
          let layer = acc.state.get(s.layer);
          if (!layer) acc.state.set(s.layer, (layer = { recent: [], ema: null }));
          let load: Float64Array;
          if (estimator.kind === 'last') load = totals;
          else if (estimator.kind === 'ema') {
            const a = estimator.alpha;
            layer.ema = layer.ema ? layer.ema.map((v, e) => a * totals[e]! + (1 - a) * v) : totals;
            load = layer.ema;
          } else {
            layer.recent.push(totals);
            if (layer.recent.length > estimator.window) layer.recent.shift();
            load = new Float64Array(totals.length);
            for (const r of layer.recent) for (let e = 0; e < load.length; e++) load[e]! += r[e]! / layer.recent.length;
          }
          return { state: acc.state, out: { step: s.step, layer: s.layer, load } };
        },
        { state: new Map() as State, out: null },
      ),
      map((acc) => acc.out!),
    );
}
