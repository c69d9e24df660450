import { filter, map, scan, type OperatorFunction } from 'rxjs';
import type { BalanceSample } from './balance.js';

/**
 * Hysteresis on the balance ratio: arms when a sample exceeds `threshold`, disarms when one falls
 * below `release`, and passes samples through only while armed. A ratio wobbling between the two
 * never flips the state, so re-planning does not flap.
 *
 * @example
 * samples$.pipe(trigger({ threshold: 1.3, release: 1.1 })) // ratios 1.2, 1.4, 1.2, 1.05, 1.2 → passes 1.4, 1.2
 */
export function trigger({ threshold, release }: { threshold: number; release: number }): OperatorFunction<BalanceSample, BalanceSample> {
  return (source$) =>
    source$.pipe(
      scan((acc: { armed: boolean; sample: BalanceSample | null }, s: BalanceSample) => {
        const armed = acc.armed ? s.ratio >= release : s.ratio > threshold;
        return { armed, sample: s };
      }, { armed: false, sample: null }),
      filter((acc) => acc.armed),
      map((acc) => acc.sample!),
    );
}
