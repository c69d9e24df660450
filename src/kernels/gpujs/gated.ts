import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';
import type { GpuJsContext } from './context.js';
import { elementwise } from './rowwise.js';

// SiLU x·σ(x) and its backward σ(x)·(1 + x·(1 − σ(x))); σ written out (gpu.js has no sigmoid).
const SILU = `function (a) { const v = a[this.thread.y][this.thread.x]; return v / (1 + Math.exp(-v)); }`;
const SILU_BACKWARD = `function (a, g) {
  const v = a[this.thread.y][this.thread.x];
  const s = 1 / (1 + Math.exp(-v));
  return g[this.thread.y][this.thread.x] * s * (1 + v * (1 - s));
}`;

/** The elementwise product, SiLU beside its backward, and the sigmoid. */
export const mul: KernelConfig<'mul', GpuJsContext> = {
  kernel: 'mul',
  backend: 'gpujs',
  run(ctx, a, b) {
    expectSameShape('mul', a, b);
    return elementwise(ctx, 'mul', `function (a, b) { return a[this.thread.y][this.thread.x] * b[this.thread.y][this.thread.x]; }`, [a, b], a.shape);
  },
};

export const silu: KernelConfig<'silu', GpuJsContext> = {
  kernel: 'silu',
  backend: 'gpujs',
  run: (ctx, x) => elementwise(ctx, 'silu', SILU, [x], x.shape),
};

export const siluBackward: KernelConfig<'siluBackward', GpuJsContext> = {
  kernel: 'siluBackward',
  backend: 'gpujs',
  run(ctx, x, dy) {
    expectSameShape('siluBackward', x, dy);
    return elementwise(ctx, 'siluBackward', SILU_BACKWARD, [x, dy], x.shape);
  },
};

export const sigmoid: KernelConfig<'sigmoid', GpuJsContext> = {
  kernel: 'sigmoid',
  backend: 'gpujs',
  run: (ctx, x) => elementwise(ctx, 'sigmoid', `function (a) { return 1 / (1 + Math.exp(-a[this.thread.y][this.thread.x])); }`, [x], x.shape),
};
