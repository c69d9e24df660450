import { Placement } from '../placement.js';
import type { Policy } from '../policy.js';

/**
 * DeepSpeed-style expert parallelism without dropping: experts dealt round-robin once and never
 * moved; every expert's buffer is padded to the largest expert's token count (DeepSpeed
 * `drop_tokens=False`: capacity = the all-reduced maximum), so the hottest expert sets everyone's work.
 */
export function staticPolicy(): Policy {
  return {
    name: 'static',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: () => [],
    dispatch: () => ({ mode: 'padMax' }),
  };
}
