import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';
import type { GpuJsContext } from './context.js';
import { elementwise } from './rowwise.js';

// GELU, tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). `v !== v` is the NaN test gpu.js can compile.
const GELU = `function (a) {
  const v = a[this.thread.y][this.thread.x];
  const t = Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v));
  return 0.5 * v * (1 + t);
}`;
const GELU_BACKWARD = `function (a, g) {
  const v = a[this.thread.y][this.thread.x];
  const t = Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v));
  const d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * 0.7978845608028654 * (1 + 0.134145 * v * v);
  return g[this.thread.y][this.thread.x] * d;
}`;
const RELU = `function (a) { const v = a[this.thread.y][this.thread.x]; if (v !== v) { return v; } return Math.max(v, 0); }`;
const RELU_BACKWARD = `function (a, g) {
  const v = a[this.thread.y][this.thread.x];
  if (v !== v) { return v; }
  if (v > 0) { return g[this.thread.y][this.thread.x]; }
  return 0;
}`;

export const relu: KernelConfig<'relu', GpuJsContext> = {
  kernel: 'relu',
  backend: 'gpujs',
  run: (ctx, x) => elementwise(ctx, 'relu', RELU, [x], x.shape),
};

export const reluBackward: KernelConfig<'reluBackward', GpuJsContext> = {
  kernel: 'reluBackward',
  backend: 'gpujs',
  run(ctx, x, dy) {
    expectSameShape('reluBackward', x, dy);
    return elementwise(ctx, 'reluBackward', RELU_BACKWARD, [x, dy], x.shape);
  },
};

export const gelu: KernelConfig<'gelu', GpuJsContext> = {
  kernel: 'gelu',
  backend: 'gpujs',
  run: (ctx, x) => elementwise(ctx, 'gelu', GELU, [x], x.shape),
};

export const geluBackward: KernelConfig<'geluBackward', GpuJsContext> = {
  kernel: 'geluBackward',
  backend: 'gpujs',
  run(ctx, x, dy) {
    expectSameShape('geluBackward', x, dy);
    return elementwise(ctx, 'geluBackward', GELU_BACKWARD, [x, dy], x.shape);
  },
};
