import type { KernelConfig } from '../types.js';
import { attentionDims, expectScores } from '../shapes.js';
import { like } from './util.js';

/**
 * The three batched products of multi-head attention. Forward: scores = QKᵀ·scale (causal mask),
 * softmax, context = P·V. Backward reuses them: dP = scores(dCtx, V) unscaled, dQ = apply(dS, K)·scale,
 * dK = applyT(dS, Q)·scale, dV = applyT(P, dCtx).
 *
 * With `causal`, apply and applyT take the weights above the diagonal as zero and skip them: they
 * are, for P (the softmax of masked scores: exp(-1e9 - max) is 0 in any float) and for dS = P ⊙ (…).
 * Skipping exact zeros at the end (apply) or start (applyT) of each in-order sum leaves every result
 * bit-identical and halves the two products' work.
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
        let acc = 0, c = 0;
        // Unrolled by four, in the same order (results identical to the plain loop).
        for (; c + 4 <= D; c += 4) {
          acc += qd[qi + c]! * kd[kj + c]!;
          acc += qd[qi + c + 1]! * kd[kj + c + 1]!;
          acc += qd[qi + c + 2]! * kd[kj + c + 2]!;
          acc += qd[qi + c + 3]! * kd[kj + c + 3]!;
        }
        for (; c < D; c++) acc += qd[qi + c]! * kd[kj + c]!;
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
    // Output row i of a head: its row of P (stride 1) weights the head's rows of V.
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
      const head = b * S * W + h * D;
      weightedRows(out.data, head + i * W, p.data, ((b * H + h) * S + i) * S, 1, v.data, head, W, s.causal ? i + 1 : S, D);
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
    // Output row j of a head: column j of P (stride S) weights the head's rows of X.
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let j = 0; j < S; j++) {
      const head = b * S * W + h * D;
      // Causal: column j of P is zero above row j, so the sum starts at row j.
      const k0 = s.causal ? j : 0;
      weightedRows(out.data, head + j * W, p.data, (b * H + h) * S * S + k0 * S + j, S, x.data, head + k0 * W, W, S - k0, D);
    }
    return out;
  },
};

type Floats = Float32Array | Float64Array | Int32Array;

/**
 * One output row of a batched attention product: out[o + c] = Σ_k w[w0 + k·ws] · x[x0 + k·W + c]
 * for c < D, k < S (the rows summed, fewer than the sequence under a causal mask). Four columns per sweep over k, so each weight is loaded once for four
 * products, while every column still sums over k in order (results identical to one at a time).
 */
function weightedRows(od: Floats, o: number, wd: Floats, w0: number, ws: number, xd: Floats, x0: number, W: number, S: number, D: number): void {
  let c = 0;
  for (; c + 4 <= D; c += 4) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let k = 0, wi = w0, xi = x0 + c; k < S; k++, wi += ws, xi += W) {
      const w = wd[wi]!;
      a0 += w * xd[xi]!;
      a1 += w * xd[xi + 1]!;
      a2 += w * xd[xi + 2]!;
      a3 += w * xd[xi + 3]!;
    }
    od[o + c] = a0;
    od[o + c + 1] = a1;
    od[o + c + 2] = a2;
    od[o + c + 3] = a3;
  }
  for (; c < D; c++) {
    let acc = 0;
    for (let k = 0, wi = w0, xi = x0 + c; k < S; k++, wi += ws, xi += W) acc += wd[wi]! * xd[xi]!;
    od[o + c] = acc;
  }
}
