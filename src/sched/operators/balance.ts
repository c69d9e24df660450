import { map, type OperatorFunction } from 'rxjs';
import { balanceRatio, deviceLoads, type Placement } from '../placement.js';
import type { LoadEstimate } from './window-load.js';

export interface BalanceSample extends LoadEstimate {
  /** max ÷ mean device load (FlexMoE's metric; 1 is perfect). */
  ratio: number;
  /** mean ÷ max, the "balancedness" vLLM and SGLang log. */
  utilization: number;
  deviceLoads: Float64Array;
}

/**
 * The balance of each estimate under the placement in force (read at emission time, so a new
 * placement version counts from the next estimate on). `loadsOf` says how an expert's load falls
 * on devices (default: split evenly over its replicas).
 *
 * @example
 * estimates$.pipe(balance(() => table.current(layer)))
 */
export function balance(placementOf: (layer: number) => Placement, loadsOf: (load: Float64Array, placement: Placement) => Float64Array = deviceLoads): OperatorFunction<LoadEstimate, BalanceSample> {
  return map((est) => {
    const loads = loadsOf(est.load, placementOf(est.layer));
    const ratio = balanceRatio(loads);
    return { ...est, ratio, utilization: 1 / ratio, deviceLoads: loads };
  });
}
