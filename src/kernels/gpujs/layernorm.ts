import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { expectSameShape } from '../../tensor/check.js';
import { Tensor } from '../../tensor/tensor.js';
import { bucket, unpackLanes, type GpuJsContext } from './context.js';
import { elementwise, padded, perRow } from './rowwise.js';

const STATS = `function (a) {
  let s = 0;
  for (let j = 0; j < this.constants.C; j++) { s += a[this.thread.x][j]; }
  const mu = s / this.constants.C;
  let v = 0;
  for (let j = 0; j < this.constants.C; j++) { const d = a[this.thread.x][j] - mu; v += d * d; }
  return [mu, 1 / Math.sqrt(v / this.constants.C + this.constants.eps)];
}`;
const NORMALISE = `function (a, mu, rs, g, b) {
  return (a[this.thread.y][this.thread.x] - mu[this.thread.y]) * rs[this.thread.y] * g[this.thread.x] + b[this.thread.x];
}`;
// Per row: Σg and Σg·x̂ with g = dy·γ.
const BACK_STATS = `function (a, dy, mu, rs, gm) {
  let sg = 0; let sgx = 0;
  for (let j = 0; j < this.constants.C; j++) {
    const g = dy[this.thread.x][j] * gm[j];
    sg += g; sgx += g * (a[this.thread.x][j] - mu[this.thread.x]) * rs[this.thread.x];
  }
  return [sg, sgx];
}`;
const BACK_DX = `function (a, dy, mu, rs, gm, sg, sgx) {
  const xh = (a[this.thread.y][this.thread.x] - mu[this.thread.y]) * rs[this.thread.y];
  const g = dy[this.thread.y][this.thread.x] * gm[this.thread.x];
  return rs[this.thread.y] * (g - sg[this.thread.y] / this.constants.C - xh * sgx[this.thread.y] / this.constants.C);
}`;
// Column sums over padded rows: [Σ dy·x̂, Σ dy]; padded rows have dy = 0.
const BACK_PARAMS = `function (a, dy, mu, rs) {
  let dg = 0; let db = 0;
  for (let i = 0; i < this.constants.R; i++) {
    const d = dy[i][this.thread.x];
    dg += d * (a[i][this.thread.x] - mu[i]) * rs[i]; db += d;
  }
  return [dg, db];
}`;

/** LayerNorm forward (row statistics, then normalise) and backward (row sums, dx, then γ/β column sums). */
export const layerNorm: KernelConfig<'layerNorm', GpuJsContext> = {
  kernel: 'layerNorm',
  backend: 'gpujs',
  async run(ctx, x, gamma, beta, eps) {
    const R = x.rows, C = x.cols;
    if (gamma.size !== C || beta.size !== C) throw errors.shapeMismatch('layerNorm', 'gamma/beta vs last dimension', x.shape, gamma.shape);
    const [mu, rs] = await perRow(ctx, 'lnStats', STATS, [x], R, 2, { C, eps });
    const y = await elementwise(ctx, 'lnNormalise', NORMALISE, [x], x.shape, [padded(mu!, R), padded(rs!, R), gamma.data, beta.data]);
    return { y, mean: new Tensor('f32', [R], mu!), rstd: new Tensor('f32', [R], rs!) };
  },
};

export const layerNormBackward: KernelConfig<'layerNormBackward', GpuJsContext> = {
  kernel: 'layerNormBackward',
  backend: 'gpujs',
  async run(ctx, x, gamma, mean, rstd, dy) {
    expectSameShape('layerNormBackward', x, dy);
    const R = x.rows, C = x.cols;
    const mu = padded(mean.data, R), rs = padded(rstd.data, R);
    const [sg, sgx] = await perRow(ctx, 'lnBackStats', BACK_STATS, [x, dy], R, 2, { C }, [mu, rs, gamma.data]);
    const dx = await elementwise(ctx, 'lnBackDx', BACK_DX, [x, dy], x.shape, [mu, rs, gamma.data, padded(sg!, R), padded(sgx!, R)]);
    const dgamma = Tensor.zeros([C]), dbeta = Tensor.zeros([C]);
    if (R > 0 && C > 0) {
      const rb = bucket(R);
      const k = ctx.kernel(`lnBackParams:${rb}:${C}`, BACK_PARAMS, { output: [C], constants: { R: rb }, returnType: 'Array(2)' });
      const r = await k(ctx.rows(x.data, R, C, rb, 'lnp.x'), ctx.rows(dy.data, R, C, rb, 'lnp.dy'), mu, rs);
      const [dg, db] = unpackLanes(r, C, 2);
      dgamma.data.set(dg!);
      dbeta.data.set(db!);
    }
    return { dx, dgamma, dbeta };
  },
};
