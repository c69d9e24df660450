import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';
import { like } from './util.js';

/** Row softmax (max-subtracted) and its backward dx = y ⊙ (dy − Σ y·dy). */
export const softmax: KernelConfig<'softmax'> = {
  kernel: 'softmax',
  backend: 'reference',
  run(_ctx, x) {
    const C = x.cols, R = x.rows;
    const out = like(x, x.shape);
    const xd = x.data, od = out.data;
    const e = new Float64Array(C); // each exponential once, kept in float64
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let m = -Infinity;
      for (let j = 0; j < C; j++) m = Math.max(m, xd[o + j]!);
      let s = 0;
      for (let j = 0; j < C; j++) s += e[j] = Math.exp(xd[o + j]! - m);
      for (let j = 0; j < C; j++) od[o + j] = e[j]! / s;
    }
    return out;
  },
};

export const softmaxBackward: KernelConfig<'softmaxBackward'> = {
  kernel: 'softmaxBackward',
  backend: 'reference',
  run(_ctx, y, dy) {
    expectSameShape('softmaxBackward', y, dy);
    const C = y.cols, R = y.rows;
    const out = like(dy, dy.shape);
    const yd = y.data, dd = dy.data, od = out.data;
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let dot = 0;
      for (let j = 0; j < C; j++) dot += yd[o + j]! * dd[o + j]!;
      for (let j = 0; j < C; j++) od[o + j] = yd[o + j]! * (dd[o + j]! - dot);
    }
    return out;
  },
};
