import { scan, map, type OperatorFunction } from 'rxjs';
import type { StepLoad } from './fold-steps.js';
import type { LayerLoad } from './window-load.js';

/**
 * Complete steps become what a policy sees when it plans the next step: per layer, the history of
 * per-expert totals (at most `historyLimit` steps, the newest last) and this step's routing per
 * source as `current`.
 *
 * @example
 * steps$.pipe(loadViews(128, 2)) // step 3 of layer 0 → { layer: 0, view: { step: 4, history: [..., totals of 3], current, topk: 2 } }
 */
export function loadViews(historyLimit: number, topk: number): OperatorFunction<StepLoad, LayerLoad> {
  return (source$) =>
    source$.pipe(
      scan(
        (acc: { histories: Map<number, Float64Array[]>; out: LayerLoad | null }, s: StepLoad) => {
          const totals = new Float64Array(s.counts[0]?.length ?? 0);
          for (const row of s.counts) for (let e = 0; e < totals.length; e++) totals[e]! += row[e]!;
          let history = acc.histories.get(s.layer);
          if (!history) acc.histories.set(s.layer, (history = []));
          history.push(totals);
          if (history.length > historyLimit) history.shift();
          return { histories: acc.histories, out: { layer: s.layer, view: { step: s.step + 1, history: [...history], current: s.counts, topk } } };
        },
        { histories: new Map(), out: null },
      ),
      map((acc) => acc.out!),
    );
}
