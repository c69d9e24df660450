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
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let m = -Infinity;
      for (let j = 0; j < C; j++) m = Math.max(m, x.data[o + j]!);
      let s = 0;
      for (let j = 0; j < C; j++) s += Math.exp(x.data[o + j]! - m);
      for (let j = 0; j < C; j++) out.data[o + j] = Math.exp(x.data[o + j]! - m) / s;
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
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let dot = 0;
      for (let j = 0; j < C; j++) dot += y.data[o + j]! * dy.data[o + j]!;
      for (let j = 0; j < C; j++) out.data[o + j] = y.data[o + j]! * (dy.data[o + j]! - dot);
    }
    return out;
  },
};
