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
    const qd = q.data, kd = k.data, od = out.data, { causal, scale } = s;
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
      const row = ((b * H + h) * S + i) * S, qi = (b * S + i) * W + h * D;
      for (let j = 0; j < S; j++) {
        if (causal && j > i) { od[row + j] = -1e9; continue; }
        const kj = (b * S + j) * W + h * D;
        let acc = 0;
        for (let c = 0; c < D; c++) acc += qd[qi + c]! * kd[kj + c]!;
        od[row + j] = acc * scale;
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
    const pd = p.data, vd = v.data, od = out.data;
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
      const row = ((b * H + h) * S + i) * S, head = b * S * W + h * D;
      for (let c = 0; c < D; c++) {
        let acc = 0;
        for (let j = 0; j < S; j++) acc += pd[row + j]! * vd[head + j * W + c]!;
        od[head + i * W + c] = acc;
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
    const pd = p.data, xd = x.data, od = out.data;
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let j = 0; j < S; j++) {
      const col = (b * H + h) * S * S + j, head = b * S * W + h * D;
      for (let c = 0; c < D; c++) {
        let acc = 0;
        for (let i = 0; i < S; i++) acc += pd[col + i * S]! * xd[head + i * W + c]!;
        od[head + j * W + c] = acc;
      }
    }
    return out;
  },
};
