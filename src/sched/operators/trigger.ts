import { filter, type OperatorFunction } from 'rxjs';
import type { BalanceSample } from './balance.js';

/** A trigger's state, shared with the stage after it: a plan that finds nothing worth doing stands it down. */
export interface TriggerState {
  armed: boolean;
}

/**
 * Hysteresis on the balance ratio: arms when a sample exceeds `threshold`, disarms when one falls
 * below `release`, and passes samples through only while armed. A ratio wobbling between the two
 * never flips the state, so re-planning does not flap. Pass `state` to let a later stage disarm it
 * (FlexMoE stands down when no plan pays for itself, until the balance crosses the threshold again).
 *
 * @example
 * samples$.pipe(trigger({ threshold: 1.3, release: 1.1 })) // ratios 1.2, 1.4, 1.2, 1.05, 1.2 → passes 1.4, 1.2
 */
export function trigger({ threshold, release }: { threshold: number; release: number }, state: TriggerState = { armed: false }): OperatorFunction<BalanceSample, BalanceSample> {
  return filter((s) => {
    if (!state.armed && s.ratio > threshold) state.armed = true;
    else if (state.armed && s.ratio < release) state.armed = false;
    return state.armed;
  });
}
