import type { KernelConfig } from '../types.js';
import { attentionDims, expectScores } from '../shapes.js';
import { like } from './util.js';

/**
 * The three batched products of multi-head attention. Forward: scores = QKᵀ·scale (causal mask),
 * softmax, context = P·V. Backward reuses them: dP = scores(dCtx, V) unscaled, dQ = apply(dS, K)·scale,
 * dK = applyT(dS, Q)·scale, dV = applyT(P, dCtx).
 */
export const attentionScores: KernelConfig<'attentionScores'> = {
  kernel: 'attentionScores',
  backend: 'reference',
  run(_ctx, q, k, s) {
    const D = attentionDims('attentionScores', q, s);
    attentionDims('attentionScores', k, s);
    const { batch: B, seq: S, heads: H } = s, W = H * D;
    const out = like(q, [B * H * S, S]);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
      const row = ((b * H + h) * S + i) * S;
      for (let j = 0; j < S; j++) {
        if (s.causal && j > i) { out.data[row + j] = -1e9; continue; }
        let acc = 0;
        for (let c = 0; c < D; c++) acc += q.data[(b * S + i) * W + h * D + c]! * k.data[(b * S + j) * W + h * D + c]!;
        out.data[row + j] = acc * s.scale;
      }
    }
    return out;
  },
};

export const attentionApply: KernelConfig<'attentionApply'> = {
  kernel: 'attentionApply',
  backend: 'reference',
  run(_ctx, p, v, s) {
    const D = attentionDims('attentionApply', v, s);
    expectScores('attentionApply', p, s);
    const { batch: B, seq: S, heads: H } = s, W = H * D;
    const out = like(v, v.shape);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
      const row = ((b * H + h) * S + i) * S;
      for (let c = 0; c < D; c++) {
        let acc = 0;
        for (let j = 0; j < S; j++) acc += p.data[row + j]! * v.data[(b * S + j) * W + h * D + c]!;
        out.data[(b * S + i) * W + h * D + c] = acc;
      }
    }
    return out;
  },
};

export const attentionApplyT: KernelConfig<'attentionApplyT'> = {
  kernel: 'attentionApplyT',
  backend: 'reference',
  run(_ctx, p, x, s) {
    const D = attentionDims('attentionApplyT', x, s);
    expectScores('attentionApplyT', p, s);
    const { batch: B, seq: S, heads: H } = s, W = H * D;
    const out = like(x, x.shape);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let j = 0; j < S; j++) {
      for (let c = 0; c < D; c++) {
        let acc = 0;
        for (let i = 0; i < S; i++) acc += p.data[((b * H + h) * S + i) * S + j]! * x.data[(b * S + i) * W + h * D + c]!;
        out.data[(b * S + j) * W + h * D + c] = acc;
      }
    }
    return out;
  },
};
