import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { expectDType } from '../../tensor/check.js';
import { Tensor, type I32 } from '../../tensor/tensor.js';
import type { GpuJsContext } from './context.js';
import { elementwise, padded, perRow } from './rowwise.js';
import { rowStats } from './softmax.js';

function targetsAsFloat(op: string, targets: I32, rows: number, cols: number, shape: readonly number[]): Float32Array {
  expectDType(op, targets, 'i32');
  if (targets.size !== rows) throw errors.shapeMismatch(op, 'targets vs logits rows', targets.shape, shape);
  for (let i = 0; i < rows; i++) if (targets.data[i]! >= cols) throw errors.indexOutOfRange(op, targets.data[i]!, cols, i);
  return padded(Float32Array.from(targets.data), rows);
}

/** Cross-entropy from logits: softmax statistics per row, probabilities, and the per-row loss. */
export const crossEntropy: KernelConfig<'crossEntropy', GpuJsContext> = {
  kernel: 'crossEntropy',
  backend: 'gpujs',
  async run(ctx, logits, targets) {
    const R = logits.rows, C = logits.cols;
    const t = targetsAsFloat('crossEntropy', targets, R, C, logits.shape);
    const { max, sum } = await rowStats(ctx, logits);
    const probs = await elementwise(
      ctx, 'ceProbs',
      `function (a, m, s) { return Math.exp(a[this.thread.y][this.thread.x] - m[this.thread.y]) / s[this.thread.y]; }`,
      [logits], logits.shape, [max, sum],
    );
    const lossSrc = `function (a, m, s, t) {
      const ti = t[this.thread.x];
      if (ti < 0) { return 0; }
      return m[this.thread.x] + Math.log(s[this.thread.x]) - a[this.thread.x][ti];
    }`;
    const [loss] = await perRow(ctx, 'ceLoss', lossSrc, [logits], R, 1, {}, [max, sum, t]);
    return { loss: new Tensor('f32', [R], loss!), probs };
  },
};

export const crossEntropyBackward: KernelConfig<'crossEntropyBackward', GpuJsContext> = {
  kernel: 'crossEntropyBackward',
  backend: 'gpujs',
  run(ctx, probs, targets, scale) {
    const t = targetsAsFloat('crossEntropyBackward', targets, probs.rows, probs.cols, probs.shape);
    const src = `function (p, t, k) {
      const ti = t[this.thread.y];
      if (ti < 0) { return 0; }
      let hit = 0;
      if (ti === this.thread.x) { hit = 1; }
      return (p[this.thread.y][this.thread.x] - hit) * k;
    }`;
    return elementwise(ctx, 'ceBackward', src, [probs], probs.shape, [t, scale]);
  },
};
