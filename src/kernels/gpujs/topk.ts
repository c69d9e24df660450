import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { checkIds } from '../reference/util.js';
import { bucket, unpack, type GpuJsContext } from './context.js';
import { elementwise } from './rowwise.js';
import { input } from './gpujs.js';

/**
 * Top-k without sorting: thread (q, row) finds the column whose rank is q, where rank(j) counts the
 * columns ahead of j (larger, or equal with a lower index; NaN ranks ahead of numbers, matching the
 * reference). O(C²) per row, fine for expert counts.
 */
const TOPK = `function (a) {
  for (let j = 0; j < this.constants.C; j++) {
    const v = a[this.thread.y][j];
    let rank = 0;
    for (let i = 0; i < this.constants.C; i++) {
      const w = a[this.thread.y][i];
      let ahead = 0;
      if (w !== w) {
        if (v === v) { ahead = 1; } else if (i < j) { ahead = 1; }
      } else if (v === v) {
        if (w > v) { ahead = 1; } else if (w === v && i < j) { ahead = 1; }
      }
      rank += ahead;
    }
    if (rank === this.thread.x) { return [v, j]; }
  }
  return [0, 0];
}`;

export const topk: KernelConfig<'topk', GpuJsContext> = {
  kernel: 'topk',
  backend: 'gpujs',
  async run(ctx, x, k) {
    const C = x.cols, R = x.rows;
    if (!Number.isInteger(k) || k < 1 || k > C) throw errors.badArgument('topk', `k=${k} must be an integer in [1, ${C}]`);
    const indices = Tensor.zeros([R, k], 'i32');
    if (R === 0) return { values: Tensor.zeros([R, k]), indices };
    const rb = bucket(R);
    const kern = ctx.kernel(`topk:${rb}:${C}:${k}`, TOPK, { output: [k, rb], constants: { C }, returnType: 'Array(2)' });
    const r = await kern(ctx.rows(x.data, R, C, rb, 'topk'));
    const [values, idx] = unpack(r, R, k, 2);
    for (let i = 0; i < R * k; i++) indices.data[i] = idx!.data[i]!;
    return { values: values!, indices };
  },
};

export const topkBackward: KernelConfig<'topkBackward', GpuJsContext> = {
  kernel: 'topkBackward',
  backend: 'gpujs',
  run(ctx, indices, dValues, cols) {
    if (indices.size !== dValues.size) throw errors.shapeMismatch('topkBackward', 'indices vs dValues', indices.shape, dValues.shape);
    checkIds('topkBackward', indices, cols);
    const k = indices.cols, R = indices.rows;
    const src = `function (z, idx, dv) {
      let s = 0;
      for (let q = 0; q < this.constants.K; q++) { if (idx[this.thread.y][q] === this.thread.x) { s += dv[this.thread.y][q]; } }
      return s + z[this.thread.y][this.thread.x];
    }`;
    const rb = bucket(R);
    const idx = new Float32Array(rb * k);
    idx.set(indices.data);
    const dv = new Float32Array(rb * k);
    dv.set(dValues.data);
    // A zero [R, cols] input fixes the output shape; indices and gradients ride as 2-D extras.
    const zeros = Tensor.zeros([R, cols]);
    return elementwise(ctx, 'topkBackward', src, [zeros], zeros.shape, [input(idx, [k, rb]), input(dv, [k, rb])], { K: k });
  },
};
