import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { expectSameShape } from '../../tensor/check.js';
import { Tensor } from '../../tensor/tensor.js';
import { bucket, type GpuJsContext } from './context.js';
import { elementwise, padded, perRow } from './rowwise.js';

const STATS = `function (a) {
  let s = 0;
  for (let j = 0; j < this.constants.C; j++) { const v = a[this.thread.x][j]; s += v * v; }
  return 1 / Math.sqrt(s / this.constants.C + this.constants.eps);
}`;
const NORMALISE = `function (a, rs, g) { return a[this.thread.y][this.thread.x] * rs[this.thread.y] * g[this.thread.x]; }`;
// Per row: Σ dy·γ·x̂.
const BACK_STATS = `function (a, dy, rs, gm) {
  let s = 0;
  for (let j = 0; j < this.constants.C; j++) { s += dy[this.thread.x][j] * gm[j] * a[this.thread.x][j] * rs[this.thread.x]; }
  return s;
}`;
const BACK_DX = `function (a, dy, rs, gm, sgx) {
  const r = rs[this.thread.y];
  return r * (dy[this.thread.y][this.thread.x] * gm[this.thread.x] - a[this.thread.y][this.thread.x] * r * sgx[this.thread.y] / this.constants.C);
}`;
// Column sums over padded rows (dy = 0 there): Σ dy·x̂.
const BACK_GAMMA = `function (a, dy, rs) {
  let s = 0;
  for (let i = 0; i < this.constants.R; i++) { s += dy[i][this.thread.x] * a[i][this.thread.x] * rs[i]; }
  return s;
}`;

/** RMSNorm forward (row rstd, then scale) and backward (row sums, dx, then γ column sums). */
export const rmsNorm: KernelConfig<'rmsNorm', GpuJsContext> = {
  kernel: 'rmsNorm',
  backend: 'gpujs',
  async run(ctx, x, gamma, eps) {
    const R = x.rows, C = x.cols;
    if (gamma.size !== C) throw errors.shapeMismatch('rmsNorm', 'gamma vs last dimension', x.shape, gamma.shape);
    const [rs] = await perRow(ctx, 'rmsStats', STATS, [x], R, 1, { C, eps });
    const y = await elementwise(ctx, 'rmsNormalise', NORMALISE, [x], x.shape, [padded(rs!, R), gamma.data]);
    return { y, rstd: new Tensor('f32', [R], rs!) };
  },
};

export const rmsNormBackward: KernelConfig<'rmsNormBackward', GpuJsContext> = {
  kernel: 'rmsNormBackward',
  backend: 'gpujs',
  async run(ctx, x, gamma, rstd, dy) {
    expectSameShape('rmsNormBackward', x, dy);
    const R = x.rows, C = x.cols;
    const rs = padded(rstd.data, R);
    const [sgx] = await perRow(ctx, 'rmsBackStats', BACK_STATS, [x, dy], R, 1, { C }, [rs, gamma.data]);
    const dx = await elementwise(ctx, 'rmsBackDx', BACK_DX, [x, dy], x.shape, [rs, gamma.data, padded(sgx!, R)]);
    const dgamma = Tensor.zeros([C]);
    if (R > 0 && C > 0) {
      const rb = bucket(R);
      const k = ctx.kernel(`rmsBackGamma:${rb}:${C}`, BACK_GAMMA, { output: [C], constants: { R: rb } });
      const r = (await k(ctx.rows(x.data, R, C, rb, 'rmsg.x'), ctx.rows(dy.data, R, C, rb, 'rmsg.dy'), rs)) as Float32Array;
      dgamma.data.set(r.subarray(0, C));
    }
    return { dx, dgamma };
  },
};
