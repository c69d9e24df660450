import type { KernelConfig } from '../types.js';
import { expectSameShape } from '../../tensor/check.js';
import type { GpuJsContext } from './context.js';
import { elementwise } from './rowwise.js';

/** Elementwise add and scale, and the in-place gradient sum. */
export const add: KernelConfig<'add', GpuJsContext> = {
  kernel: 'add',
  backend: 'gpujs',
  run(ctx, a, b) {
    expectSameShape('add', a, b);
    return elementwise(ctx, 'add', `function (a, b) { return a[this.thread.y][this.thread.x] + b[this.thread.y][this.thread.x]; }`, [a, b], a.shape);
  },
};

export const scale: KernelConfig<'scale', GpuJsContext> = {
  kernel: 'scale',
  backend: 'gpujs',
  run(ctx, x, s) {
    return elementwise(ctx, 'scale', `function (a, s) { return a[this.thread.y][this.thread.x] * s; }`, [x], x.shape, [s]);
  },
};

/** into += x: the sum on the device, written back into `into` (a parameter's gradient). */
export const accumulate: KernelConfig<'accumulate', GpuJsContext> = {
  kernel: 'accumulate',
  backend: 'gpujs',
  async run(ctx, into, x) {
    expectSameShape('accumulate', into, x);
    if (into.size === 0) return;
    const sum = await add.run(ctx, into, x);
    into.data.set(sum.data.subarray(0, into.size));
  },
};
