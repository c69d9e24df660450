import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';
import { like } from './util.js';

const C0 = Math.sqrt(2 / Math.PI);
const C1 = 0.044715;

/** ReLU and GELU (tanh form), each forward beside its backward. NaN propagates through both. */
export const relu: KernelConfig<'relu'> = {
  kernel: 'relu',
  backend: 'reference',
  run(_ctx, x) {
    const out = like(x, x.shape);
    const xd = x.data, od = out.data;
    for (let i = 0; i < xd.length; i++) {
      const v = xd[i]!;
      od[i] = v > 0 || v !== v ? v : 0; // NaN passes through
    }
    return out;
  },
};

export const reluBackward: KernelConfig<'reluBackward'> = {
  kernel: 'reluBackward',
  backend: 'reference',
  run(_ctx, x, dy) {
    expectSameShape('reluBackward', x, dy);
    const out = like(dy, dy.shape);
    const xd = x.data, dd = dy.data, od = out.data;
    for (let i = 0; i < xd.length; i++) {
      const v = xd[i]!;
      od[i] = v > 0 ? dd[i]! : v !== v ? NaN : 0;
    }
    return out;
  },
};

export const gelu: KernelConfig<'gelu'> = {
  kernel: 'gelu',
  backend: 'reference',
  run(_ctx, x) {
    const out = like(x, x.shape);
    for (let i = 0; i < x.size; i++) {
      const v = x.data[i]!;
      out.data[i] = 0.5 * v * (1 + Math.tanh(C0 * (v + C1 * v * v * v)));
    }
    return out;
  },
};

export const geluBackward: KernelConfig<'geluBackward'> = {
  kernel: 'geluBackward',
  backend: 'reference',
  run(_ctx, x, dy) {
    expectSameShape('geluBackward', x, dy);
    const out = like(dy, dy.shape);
    for (let i = 0; i < x.size; i++) {
      const v = x.data[i]!;
      const t = Math.tanh(C0 * (v + C1 * v * v * v));
      const d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * C0 * (1 + 3 * C1 * v * v);
      out.data[i] = dy.data[i]! * d;
    }
    return out;
  },
};
