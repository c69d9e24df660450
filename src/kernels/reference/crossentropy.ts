import type { KernelConfig } from '../types.js';
import { expectDType } from '../../tensor/check.js';
import { checkTargets } from '../shapes.js';
import { like } from './util.js';

/** Cross-entropy from logits (per-row loss and the softmax it used) and its backward. */
export const crossEntropy: KernelConfig<'crossEntropy'> = {
  kernel: 'crossEntropy',
  backend: 'reference',
  run(_ctx, logits, targets) {
    expectDType('crossEntropy', targets, 'i32');
    const C = logits.cols, R = logits.rows;
    checkTargets('crossEntropy', R, C, targets, logits.shape);
    const probs = like(logits, logits.shape), loss = like(logits, [R]);
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let m = -Infinity;
      for (let j = 0; j < C; j++) m = Math.max(m, logits.data[o + j]!);
      let s = 0;
      for (let j = 0; j < C; j++) s += Math.exp(logits.data[o + j]! - m);
      for (let j = 0; j < C; j++) probs.data[o + j] = Math.exp(logits.data[o + j]! - m) / s;
      const t = targets.data[r]!;
      loss.data[r] = t < 0 ? 0 : m + Math.log(s) - logits.data[o + t]!;
    }
    return { loss, probs };
  },
};

export const crossEntropyBackward: KernelConfig<'crossEntropyBackward'> = {
  kernel: 'crossEntropyBackward',
  backend: 'reference',
  run(_ctx, probs, targets, scale) {
    expectDType('crossEntropyBackward', targets, 'i32');
    const C = probs.cols, R = probs.rows;
    checkTargets('crossEntropyBackward', R, C, targets, probs.shape);
    const out = like(probs, probs.shape);
    for (let r = 0; r < R; r++) {
      const t = targets.data[r]!;
      if (t < 0) continue;
      for (let j = 0; j < C; j++) out.data[r * C + j] = (probs.data[r * C + j]! - (j === t ? 1 : 0)) * scale;
    }
    return out;
  },
};
