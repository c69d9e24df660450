import type { KernelConfig } from '../types.js';
import { attentionDims, expectScores } from '../shapes.js';
import { expectSameShape } from '../../tensor/check.js';
import { Tensor, type F32 } from '../../tensor/tensor.js';

/**
 * Attention's batched products and the row softmax as typed-array loops for the wasm-simd family.
 * At the shapes a character model has (sequence 32, head width 16) each (batch, head) product is a
 * few thousand multiply-adds: a kernel launch per call costs more than the arithmetic, so a loop
 * with hoisted offsets wins (docs/kernels.md). Same results as the reference up to float32 rounding.
 */
export const attentionScores: KernelConfig<'attentionScores'> = {
  kernel: 'attentionScores',
  backend: 'wasm',
  run(_ctx, q, k, s) {
    const D = attentionDims('attentionScores', q, s);
    attentionDims('attentionScores', k, s);
    const { batch: B, seq: S, heads: H } = s, W = H * D;
    const out = Tensor.zeros([B * H * S, S], q.dtype) as F32;
    const qd = q.data, kd = k.data, od = out.data;
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
      const row = ((b * H + h) * S + i) * S, qi = (b * S + i) * W + h * D;
      for (let j = 0; j < S; j++) {
        if (s.causal && j > i) {
          od[row + j] = -1e9;
          continue;
        }
        const kj = (b * S + j) * W + h * D;
        let acc = 0;
        for (let c = 0; c < D; c++) acc += qd[qi + c]! * kd[kj + c]!;
        od[row + j] = acc * s.scale;
      }
    }
    return out;
  },
};

export const attentionApply: KernelConfig<'attentionApply'> = {
  kernel: 'attentionApply',
  backend: 'wasm',
  run(_ctx, p, v, s) {
    const D = attentionDims('attentionApply', v, s);
    expectScores('attentionApply', p, s);
    const { batch: B, seq: S, heads: H } = s, W = H * D;
    const out = Tensor.zeros(v.shape, v.dtype) as F32;
    const pd = p.data, vd = v.data, od = out.data;
    // out[i, :] = Σ_j p[i, j] · v[j, :], accumulated row by row (unit stride over c).
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
      const row = ((b * H + h) * S + i) * S, oi = (b * S + i) * W + h * D;
      for (let j = 0; j < S; j++) {
        const w = pd[row + j]!;
        if (w === 0) continue;
        const vj = (b * S + j) * W + h * D;
        for (let c = 0; c < D; c++) od[oi + c] += w * vd[vj + c]!;
      }
    }
    return out;
  },
};

export const attentionApplyT: KernelConfig<'attentionApplyT'> = {
  kernel: 'attentionApplyT',
  backend: 'wasm',
  run(_ctx, p, x, s) {
    const D = attentionDims('attentionApplyT', x, s);
    expectScores('attentionApplyT', p, s);
    const { batch: B, seq: S, heads: H } = s, W = H * D;
    const out = Tensor.zeros(x.shape, x.dtype) as F32;
    const pd = p.data, xd = x.data, od = out.data;
    // out[j, :] = Σ_i p[i, j] · x[i, :]
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
      const row = ((b * H + h) * S + i) * S, xi = (b * S + i) * W + h * D;
      for (let j = 0; j < S; j++) {
        const w = pd[row + j]!;
        if (w === 0) continue;
        const oj = (b * S + j) * W + h * D;
        for (let c = 0; c < D; c++) od[oj + c] += w * xd[xi + c]!;
      }
    }
    return out;
  },
};

export const softmax: KernelConfig<'softmax'> = {
  kernel: 'softmax',
  backend: 'wasm',
  run(_ctx, x) {
    const C = x.cols, R = x.rows;
    const out = Tensor.zeros(x.shape, x.dtype) as F32;
    const xd = x.data, od = out.data;
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let m = -Infinity;
      for (let j = 0; j < C; j++) m = Math.max(m, xd[o + j]!);
      let sum = 0;
      for (let j = 0; j < C; j++) sum += od[o + j] = Math.exp(xd[o + j]! - m);
      const inv = 1 / sum;
      for (let j = 0; j < C; j++) od[o + j]! *= inv;
    }
    return out;
  },
};

export const softmaxBackward: KernelConfig<'softmaxBackward'> = {
  kernel: 'softmaxBackward',
  backend: 'wasm',
  run(_ctx, y, dy) {
    expectSameShape('softmaxBackward', y, dy);
    const C = y.cols, R = y.rows;
    const out = Tensor.zeros(dy.shape, dy.dtype) as F32;
    const yd = y.data, dd = dy.data, od = out.data;
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let dot = 0;
      for (let j = 0; j < C; j++) dot += yd[o + j]! * dd[o + j]!;
      for (let j = 0; j < C; j++) od[o + j] = yd[o + j]! * (dd[o + j]! - dot);
    }
    return out;
  },
};
