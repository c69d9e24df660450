import { Tensor, type F32 } from '../../tensor/tensor.js';
import { attentionDims, expectScores } from '../shapes.js';
import * as ref from '../reference/attention.js';
import { simd } from './simd-kernel.js';

/**
 * Attention's batched products (simd/attention.ts): per head, Q·Kᵀ, P·V and Pᵀ·X on the same 4×8
 * tile as the matmul, with the causal half skipped. The workspace holds one head's packed operand
 * and a tile.
 */
const workspace = (S: number, D: number) => Math.max(D * ((S + 7) & ~7), S * ((D + 7) & ~7)) + 4 * Math.max((S + 7) & ~7, (D + 7) & ~7);

export const attentionScores = simd(ref.attentionScores, (m, q, k, s) => {
  const D = attentionDims('attentionScores', q, s);
  attentionDims('attentionScores', k, s);
  const { batch: B, seq: S, heads: H } = s;
  const out = Tensor.empty([B * H * S, S]) as F32;
  if (out.size === 0 || D === 0) return out.size ? (Tensor.zeros(out.shape) as F32) : out;
  m.begin();
  const pq = m.input(q.data), pk = m.input(k.data), po = m.space(out.size), ws = m.space(workspace(S, D));
  m.fn.attentionScores!(pq, pk, po, ws, B, S, H, D, s.causal ? 1 : 0, s.scale);
  out.data.set(m.f32(po, out.size));
  return out;
});

function applyKernel(name: 'attentionApply' | 'attentionApplyT') {
  return simd(ref[name], (m, p, x, s) => {
    const D = attentionDims(name, x, s);
    expectScores(name, p, s);
    const { batch: B, seq: S, heads: H } = s;
    const out = Tensor.empty(x.shape) as F32;
    if (out.size === 0) return out;
    m.begin();
    const pp = m.input(p.data), px = m.input(x.data), po = m.space(out.size), ws = m.space(workspace(S, D));
    m.fn[name]!(pp, px, po, ws, B, S, H, D, s.causal ? 1 : 0);
    out.data.set(m.f32(po, out.size));
    return out;
  });
}

export const attentionApply = applyKernel('attentionApply');
export const attentionApplyT = applyKernel('attentionApplyT');
