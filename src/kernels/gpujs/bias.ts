import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { bucket, unpack1, type GpuJsContext } from './context.js';
import { elementwise } from './rowwise.js';

/** biasAdd and its backward colSum (one thread per column summing the bucketed, zero-padded rows). */
export const biasAdd: KernelConfig<'biasAdd', GpuJsContext> = {
  kernel: 'biasAdd',
  backend: 'gpujs',
  run(ctx, x, bias) {
    if (bias.size !== x.cols) throw errors.shapeMismatch('biasAdd', 'bias length vs last dimension', x.shape, bias.shape);
    const src = `function (x, b) { return x[this.thread.y][this.thread.x] + b[this.thread.x]; }`;
    return elementwise(ctx, 'biasAdd', src, [x], x.shape, [bias.data]);
  },
};

export const colSum: KernelConfig<'colSum', GpuJsContext> = {
  kernel: 'colSum',
  backend: 'gpujs',
  async run(ctx, dy) {
    const R = dy.rows, C = dy.cols;
    const out = Tensor.zeros([C]);
    if (R === 0 || C === 0) return out;
    const rb = bucket(R);
    const k = ctx.kernel(`colSum:${rb}:${C}`, `function (a) { let s = 0; for (let i = 0; i < this.constants.R; i++) { s += a[i][this.thread.x]; } return s; }`, {
      output: [C],
      constants: { R: rb },
    });
    out.data.set(unpack1(await k(ctx.rows(dy.data, R, C, rb, 'colSum')), C));
    return out;
  },
};
