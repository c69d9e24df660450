import { Placement } from '../placement.js';
import type { Policy } from '../policy.js';

/**
 * DeepSpeed-style expert parallelism without dropping: experts dealt round-robin once and never
 * moved; every expert's buffer is padded to the largest expert's token count (DeepSpeed
 * `drop_tokens=False`: capacity = the all-reduced maximum), so the hottest expert sets everyone's work.
 * Live, every hosted expert computes that many rows each step, zeros beyond its own tokens.
 */
export function staticPolicy(): Policy {
  return {
    name: 'static',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: () => [],
    dispatch: () => ({ mode: 'padMax' }),
  };
}

/**
 * The same fixed placement with each expert computing exactly its own tokens (variable-size
 * buffers, as dropless MoE kernels do): a stronger baseline than DeepSpeed's padded buffers, and the
 * one that shows what moving experts adds beyond not padding.
 */
export function staticUnpaddedPolicy(): Policy {
  return {
    name: 'static-unpadded',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: () => [],
    dispatch: () => ({ mode: 'split', locality: true }),
  };
}
