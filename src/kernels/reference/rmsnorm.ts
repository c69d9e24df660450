import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { expectSameShape } from '../../tensor/check.js';
import { like } from './util.js';

/**
 * RMSNorm over the last dimension, y = x·rstd·γ with rstd = 1/√(mean(x²) + eps), and its backward:
 * dx = rstd·(g − x̂·mean(g·x̂)) with g = dy·γ and x̂ = x·rstd; dγ = Σ dy·x̂.
 */
export const rmsNorm: KernelConfig<'rmsNorm'> = {
  kernel: 'rmsNorm',
  backend: 'reference',
  run(_ctx, x, gamma, eps) {
    const C = x.cols, R = x.rows;
    if (gamma.size !== C) throw errors.shapeMismatch('rmsNorm', 'gamma vs last dimension', x.shape, gamma.shape);
    const y = like(x, x.shape), rstd = like(x, [R]);
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let s = 0;
      for (let j = 0; j < C; j++) s += x.data[o + j]! ** 2;
      const rs = 1 / Math.sqrt(s / C + eps);
      rstd.data[r] = rs;
      for (let j = 0; j < C; j++) y.data[o + j] = x.data[o + j]! * rs * gamma.data[j]!;
    }
    return { y, rstd };
  },
};

export const rmsNormBackward: KernelConfig<'rmsNormBackward'> = {
  kernel: 'rmsNormBackward',
  backend: 'reference',
  run(_ctx, x, gamma, rstd, dy) {
    expectSameShape('rmsNormBackward', x, dy);
    const C = x.cols, R = x.rows;
    const dx = like(dy, x.shape), dgamma = like(dy, [C]);
    const dg = new Float64Array(C);
    for (let r = 0; r < R; r++) {
      const o = r * C, rs = rstd.data[r]!;
      let sgx = 0;
      for (let j = 0; j < C; j++) {
        const xh = x.data[o + j]! * rs;
        sgx += dy.data[o + j]! * gamma.data[j]! * xh;
        dg[j]! += dy.data[o + j]! * xh;
      }
      for (let j = 0; j < C; j++) dx.data[o + j] = rs * (dy.data[o + j]! * gamma.data[j]! - (x.data[o + j]! * rs * sgx) / C);
    }
    dgamma.data.set(dg);
    return { dx, dgamma };
  },
};
