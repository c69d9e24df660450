import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { like } from './util.js';

/** biasAdd and its backward, colSum (the bias gradient sums dy over rows). */
export const biasAdd: KernelConfig<'biasAdd'> = {
  kernel: 'biasAdd',
  backend: 'reference',
  run(_ctx, x, bias) {
    const C = x.cols;
    if (bias.size !== C) throw errors.shapeMismatch('biasAdd', 'bias length vs last dimension', x.shape, bias.shape);
    const out = like(x, x.shape);
    const xd = x.data, bd = bias.data, od = out.data;
    for (let at = 0; at < xd.length; at += C) for (let c = 0; c < C; c++) od[at + c] = xd[at + c]! + bd[c]!;
    return out;
  },
};

export const colSum: KernelConfig<'colSum'> = {
  kernel: 'colSum',
  backend: 'reference',
  run(_ctx, dy) {
    const C = dy.cols, R = dy.rows;
    const out = like(dy, [C]);
    const d = dy.data, od = out.data;
    // Rows in order, summed in float64 per column (the same order as one column at a time).
    const acc = new Float64Array(C);
    for (let i = 0, at = 0; i < R; i++, at += C) for (let j = 0; j < C; j++) acc[j]! += d[at + j]!;
    od.set(acc);
    return out;
  },
};
