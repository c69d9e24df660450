import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';
import { like } from './util.js';

/** Elementwise add (its gradient passes through) and scale (its gradient is the same scale). */
export const add: KernelConfig<'add'> = {
  kernel: 'add',
  backend: 'reference',
  run(_ctx, a, b) {
    expectSameShape('add', a, b);
    const out = like(a, a.shape);
    const ad = a.data, bd = b.data, od = out.data;
    for (let i = 0; i < ad.length; i++) od[i] = ad[i]! + bd[i]!;
    return out;
  },
};

export const scale: KernelConfig<'scale'> = {
  kernel: 'scale',
  backend: 'reference',
  run(_ctx, x, s) {
    const out = like(x, x.shape);
    const xd = x.data, od = out.data;
    for (let i = 0; i < xd.length; i++) od[i] = xd[i]! * s;
    return out;
  },
};
