import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';

/** The optimizer's elementwise ops: the squared norm (for clipping), the AdamW update, and the gradient sum. */
export const sumSquares: KernelConfig<'sumSquares'> = {
  kernel: 'sumSquares',
  backend: 'reference',
  run(_ctx, x) {
    const d = x.data;
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[i]! * d[i]!;
    return s;
  },
};

/** Decoupled weight decay (Loshchilov & Hutter): p ← p − lr·(m̂/(√v̂+ε) + wd·p). */
export const adamw: KernelConfig<'adamw'> = {
  kernel: 'adamw',
  backend: 'reference',
  run(_ctx, param, grad, m, v, h) {
    expectSameShape('adamw', param, grad);
    expectSameShape('adamw', param, m);
    expectSameShape('adamw', param, v);
    const bc1 = 1 - h.beta1 ** h.step, bc2 = 1 - h.beta2 ** h.step;
    for (let i = 0; i < param.size; i++) {
      const g = grad.data[i]! * h.gradScale;
      const mi = h.beta1 * m.data[i]! + (1 - h.beta1) * g;
      const vi = h.beta2 * v.data[i]! + (1 - h.beta2) * g * g;
      m.data[i] = mi;
      v.data[i] = vi;
      const p = param.data[i]!;
      param.data[i] = p - h.lr * (mi / bc1 / (Math.sqrt(vi / bc2) + h.eps) + h.weightDecay * p);
    }
  },
};

/** into += x in place: a parameter's gradient gathering one backward's contribution. */
export const accumulate: KernelConfig<'accumulate'> = {
  kernel: 'accumulate',
  backend: 'reference',
  run(_ctx, into, x) {
    expectSameShape('accumulate', into, x);
    const a = into.data, b = x.data;
    for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
  },
};
