import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { expectSameShape } from '../../tensor/check.js';
import { like } from './util.js';

/**
 * LayerNorm over the last dimension, y = (x − mean)·rstd·γ + β, and its backward:
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ; dγ = Σ dy·x̂; dβ = Σ dy.
 */
export const layerNorm: KernelConfig<'layerNorm'> = {
  kernel: 'layerNorm',
  backend: 'reference',
  run(_ctx, x, gamma, beta, eps) {
    const C = x.cols, R = x.rows;
    if (gamma.size !== C || beta.size !== C) throw errors.shapeMismatch('layerNorm', 'gamma/beta vs last dimension', x.shape, gamma.shape);
    const y = like(x, x.shape), mean = like(x, [R]), rstd = like(x, [R]);
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let s = 0;
      for (let j = 0; j < C; j++) s += x.data[o + j]!;
      const mu = s / C;
      let v = 0;
      for (let j = 0; j < C; j++) v += (x.data[o + j]! - mu) ** 2;
      const rs = 1 / Math.sqrt(v / C + eps);
      mean.data[r] = mu;
      rstd.data[r] = rs;
      for (let j = 0; j < C; j++) y.data[o + j] = (x.data[o + j]! - mu) * rs * gamma.data[j]! + beta.data[j]!;
    }
    return { y, mean, rstd };
  },
};

export const layerNormBackward: KernelConfig<'layerNormBackward'> = {
  kernel: 'layerNormBackward',
  backend: 'reference',
  run(_ctx, x, gamma, mean, rstd, dy) {
    expectSameShape('layerNormBackward', x, dy);
    const C = x.cols, R = x.rows;
    const dx = like(dy, x.shape), dgamma = like(dy, [C]), dbeta = like(dy, [C]);
    const dg = new Float64Array(C), db = new Float64Array(C);
    for (let r = 0; r < R; r++) {
      const o = r * C, mu = mean.data[r]!, rs = rstd.data[r]!;
      let sg = 0, sgx = 0;
      for (let j = 0; j < C; j++) {
        const xh = (x.data[o + j]! - mu) * rs, g = dy.data[o + j]! * gamma.data[j]!;
        sg += g;
        sgx += g * xh;
        dg[j]! += dy.data[o + j]! * xh;
        db[j]! += dy.data[o + j]!;
      }
      for (let j = 0; j < C; j++) {
        const xh = (x.data[o + j]! - mu) * rs, g = dy.data[o + j]! * gamma.data[j]!;
        dx.data[o + j] = rs * (g - sg / C - (xh * sgx) / C);
      }
    }
    dgamma.data.set(dg);
    dbeta.data.set(db);
    return { dx, dgamma, dbeta };
  },
};
