import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';
import { like } from './util.js';

/**
 * The pieces of a gated FFN (SwiGLU) and a sigmoid router: the elementwise product (its gradient
 * is the other factor), SiLU x·σ(x) beside its backward σ(x)·(1 + x·(1 − σ(x))), and the sigmoid.
 */
export const mul: KernelConfig<'mul'> = {
  kernel: 'mul',
  backend: 'reference',
  run(_ctx, a, b) {
    expectSameShape('mul', a, b);
    const out = like(a, a.shape);
    for (let i = 0; i < a.size; i++) out.data[i] = a.data[i]! * b.data[i]!;
    return out;
  },
};

const sigmoidOf = (v: number) => 1 / (1 + Math.exp(-v));

export const silu: KernelConfig<'silu'> = {
  kernel: 'silu',
  backend: 'reference',
  run(_ctx, x) {
    const out = like(x, x.shape);
    for (let i = 0; i < x.size; i++) out.data[i] = x.data[i]! * sigmoidOf(x.data[i]!);
    return out;
  },
};

export const siluBackward: KernelConfig<'siluBackward'> = {
  kernel: 'siluBackward',
  backend: 'reference',
  run(_ctx, x, dy) {
    expectSameShape('siluBackward', x, dy);
    const out = like(dy, dy.shape);
    for (let i = 0; i < x.size; i++) {
      const v = x.data[i]!, s = sigmoidOf(v);
      out.data[i] = dy.data[i]! * s * (1 + v * (1 - s));
    }
    return out;
  },
};

export const sigmoid: KernelConfig<'sigmoid'> = {
  kernel: 'sigmoid',
  backend: 'reference',
  run(_ctx, x) {
    const out = like(x, x.shape);
    for (let i = 0; i < x.size; i++) out.data[i] = sigmoidOf(x.data[i]!);
    return out;
  },
};
