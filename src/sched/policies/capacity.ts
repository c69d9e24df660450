import { Placement } from '../placement.js';
import type { Policy } from '../policy.js';

/**
 * Static placement with a capacity factor (GShard, Switch, DeepSpeed): each source sends every
 * expert a buffer of ⌈factor · assignments / E⌉ slots; assignments beyond it are dropped (they skip
 * the layer through the residual) and counted.
 */
export function capacityPolicy(factor = 1.25): Policy {
  return {
    name: 'capacity',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: () => [],
    dispatch: (load) => ({ mode: 'capacity', factor, topk: load.topk }),
  };
}
