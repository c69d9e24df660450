import { Observable, type OperatorFunction } from 'rxjs';

/** What a gate reports once per (step, layer, source device): assignments per expert. */
export interface LoadEvent {
  step: number;
  layer: number;
  source: number;
  counts: ArrayLike<number>;
}

/** One step and layer's routing, complete: counts[source][expert]. */
export interface StepLoad {
  step: number;
  layer: number;
  counts: Float64Array[];
}

/**
 * Folds load events into complete per-(step, layer) matrices, emitted as soon as all `sources`
 * have reported. Events for a step and layer arrive in any order; a duplicate report from the same
 * source overwrites (the scheduler must not double count a retried message).
 *
 * @example
 * gateEvents$.pipe(foldSteps(2)) // '-a-b-' (sources 0 and 1 of step 0) → '---x-' (x: step 0, 2 rows)
 */
export function foldSteps(sources: number): OperatorFunction<LoadEvent, StepLoad> {
  return (source$) =>
    new Observable<StepLoad>((sub) => {
      const pending = new Map<string, { rows: (Float64Array | undefined)[]; seen: number }>();
      return source$.subscribe({
        next(e) {
          const key = `${e.step}:${e.layer}`;
          let p = pending.get(key);
          if (!p) pending.set(key, (p = { rows: new Array(sources), seen: 0 }));
          if (!p.rows[e.source]) p.seen++;
          p.rows[e.source] = Float64Array.from(e.counts);
          if (p.seen === sources) {
            pending.delete(key);
            sub.next({ step: e.step, layer: e.layer, counts: p.rows as Float64Array[] });
          }
        },
        error: (err) => sub.error(err),
        complete: () => sub.complete(),
      });
    });
}
