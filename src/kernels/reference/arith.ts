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
    for (let i = 0; i < a.size; i++) out.data[i] = a.data[i]! + b.data[i]!;
    return out;
  },
};

export const scale: KernelConfig<'scale'> = {
  kernel: 'scale',
  backend: 'reference',
  run(_ctx, x, s) {
    const out = like(x, x.shape);
    for (let i = 0; i < x.size; i++) out.data[i] = x.data[i]! * s;
    return out;
  },
};
