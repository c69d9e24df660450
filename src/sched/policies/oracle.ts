import { Placement } from '../placement.js';
import type { Policy } from '../policy.js';

/** A per-step perfect split: every device gets exactly the mean load, for free. The lower bound. */
export function oraclePolicy(): Policy {
  return {
    name: 'oracle',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: () => [],
    dispatch: () => ({ mode: 'oracle' }),
  };
}
