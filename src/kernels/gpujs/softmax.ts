import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';
import type { GpuJsContext } from './context.js';
import { elementwise, padded, perRow } from './rowwise.js';

/** Per-row max and Σexp(x − max): the statistics softmax and cross-entropy share. */
export const ROW_STATS = `function (a) {
  let m = a[this.thread.x][0];
  for (let j = 0; j < this.constants.C; j++) { m = Math.max(m, a[this.thread.x][j]); }
  let s = 0;
  for (let j = 0; j < this.constants.C; j++) { s += Math.exp(a[this.thread.x][j] - m); }
  return [m, s];
}`;

export async function rowStats(ctx: GpuJsContext, x: { data: Float32Array; rows: number; cols: number }) {
  const [max, sum] = await perRow(ctx, 'rowStats', ROW_STATS, [x], x.rows, 2, { C: x.cols });
  return { max: padded(max!, x.rows), sum: padded(sum!, x.rows) };
}

/** Row softmax in two passes (statistics, then normalise) and its backward y ⊙ (dy − Σ y·dy). */
export const softmax: KernelConfig<'softmax', GpuJsContext> = {
  kernel: 'softmax',
  backend: 'gpujs',
  async run(ctx, x) {
    const { max, sum } = await rowStats(ctx, x);
    const src = `function (a, m, s) { return Math.exp(a[this.thread.y][this.thread.x] - m[this.thread.y]) / s[this.thread.y]; }`;
    return elementwise(ctx, 'softmax', src, [x], x.shape, [max, sum]);
  },
};

export const softmaxBackward: KernelConfig<'softmaxBackward', GpuJsContext> = {
  kernel: 'softmaxBackward',
  backend: 'gpujs',
  async run(ctx, y, dy) {
    expectSameShape('softmaxBackward', y, dy);
    const dotSrc = `function (y, g) {
      let s = 0;
      for (let j = 0; j < this.constants.C; j++) { s += y[this.thread.x][j] * g[this.thread.x][j]; }
      return s;
    }`;
    const [dot] = await perRow(ctx, 'softmaxDot', dotSrc, [y, dy], y.rows, 1, { C: y.cols });
    const src = `function (y, g, d) { return y[this.thread.y][this.thread.x] * (g[this.thread.y][this.thread.x] - d[this.thread.y]); }`;
    return elementwise(ctx, 'softmaxBackward', src, [y, dy], y.shape, [padded(dot!, y.rows)]);
  },
};
