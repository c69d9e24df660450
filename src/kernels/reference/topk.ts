import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { checkIds, like } from './util.js';

/** Row-wise top-k (descending, ties to the lower index, NaN never selected over a number) and its scatter backward. */
export const topk: KernelConfig<'topk'> = {
  kernel: 'topk',
  backend: 'reference',
  run(_ctx, x, k) {
    const C = x.cols, R = x.rows;
    if (!Number.isInteger(k) || k < 1 || k > C) throw errors.badArgument('topk', `k=${k} must be an integer in [1, ${C}]`);
    const values = like(x, [R, k]);
    const indices = Tensor.zeros([R, k], 'i32');
    for (let r = 0; r < R; r++) {
      const o = r * C;
      const taken = new Set<number>();
      for (let q = 0; q < k; q++) {
        let best = -1, bv = -Infinity;
        for (let j = 0; j < C; j++) {
          if (taken.has(j)) continue;
          const v = x.data[o + j]!;
          if (best < 0 || v > bv) { best = j; bv = v; }
        }
        taken.add(best);
        values.data[r * k + q] = x.data[o + best]!;
        indices.data[r * k + q] = best;
      }
    }
    return { values, indices };
  },
};

export const topkBackward: KernelConfig<'topkBackward'> = {
  kernel: 'topkBackward',
  backend: 'reference',
  run(_ctx, indices, dValues, cols) {
    if (indices.size !== dValues.size) throw errors.shapeMismatch('topkBackward', 'indices vs dValues', indices.shape, dValues.shape);
    checkIds('topkBackward', indices, cols);
    const k = indices.cols, R = indices.rows;
    const out = like(dValues, [R, cols]);
    for (let r = 0; r < R; r++) for (let q = 0; q < k; q++) out.data[r * cols + indices.data[r * k + q]!]! += dValues.data[r * k + q]!;
    return out;
  },
};
