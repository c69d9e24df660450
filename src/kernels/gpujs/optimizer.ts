import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';
import { Tensor, type F32 } from '../../tensor/tensor.js';
import type { GpuJsContext } from './context.js';
import { elementwise, perRow } from './rowwise.js';

/** Parameters are flattened into rows of this width, so any tensor shape maps to a 2-D grid. */
const WIDTH = 256;

function grid(t: F32): F32 {
  const rows = Math.ceil(t.size / WIDTH);
  if (rows * WIDTH === t.size) return t.reshape([rows, WIDTH]);
  const g = Tensor.zeros([rows, WIDTH]);
  g.data.set(t.data);
  return g;
}

/** Σx² as per-row partial sums on the backend, finished in float64 here. */
export const sumSquares: KernelConfig<'sumSquares', GpuJsContext> = {
  kernel: 'sumSquares',
  backend: 'gpujs',
  async run(ctx, x) {
    if (x.size === 0) return 0;
    const g = grid(x);
    const src = `function (a) { let s = 0; for (let j = 0; j < this.constants.C; j++) { const v = a[this.thread.x][j]; s += v * v; } return s; }`;
    const [partial] = await perRow(ctx, 'sumSquares', src, [g], g.rows, 1, { C: WIDTH });
    let s = 0;
    for (const v of partial!) s += v;
    return s;
  },
};

const M_SRC = `function (g, m, b1, k) { return b1 * m[this.thread.y][this.thread.x] + (1 - b1) * g[this.thread.y][this.thread.x] * k; }`;
const V_SRC = `function (g, v, b2, k) { const x = g[this.thread.y][this.thread.x] * k; return b2 * v[this.thread.y][this.thread.x] + (1 - b2) * x * x; }`;
const P_SRC = `function (p, m, v, lr, bc1, bc2, eps, wd) {
  const w = p[this.thread.y][this.thread.x];
  return w - lr * (m[this.thread.y][this.thread.x] / bc1 / (Math.sqrt(v[this.thread.y][this.thread.x] / bc2) + eps) + wd * w);
}`;

/** AdamW: new moments first, then the parameter from them; results are written back in place. */
export const adamw: KernelConfig<'adamw', GpuJsContext> = {
  kernel: 'adamw',
  backend: 'gpujs',
  async run(ctx, param, grad, m, v, h) {
    expectSameShape('adamw', param, grad);
    expectSameShape('adamw', param, m);
    expectSameShape('adamw', param, v);
    if (param.size === 0) return;
    const [gp, gg, gm, gv] = [param, grad, m, v].map(grid) as [F32, F32, F32, F32];
    const m2 = await elementwise(ctx, 'adamM', M_SRC, [gg, gm], gm.shape, [h.beta1, h.gradScale]);
    const v2 = await elementwise(ctx, 'adamV', V_SRC, [gg, gv], gv.shape, [h.beta2, h.gradScale]);
    const bc1 = 1 - h.beta1 ** h.step, bc2 = 1 - h.beta2 ** h.step;
    const p2 = await elementwise(ctx, 'adamP', P_SRC, [gp, m2, v2], gp.shape, [h.lr, bc1, bc2, h.eps, h.weightDecay]);
    const n = param.size;
    m.data.set(m2.data.subarray(0, n));
    v.data.set(v2.data.subarray(0, n));
    param.data.set(p2.data.subarray(0, n));
  },
};
