// AssemblyScript: the three batched products of multi-head attention over the tiles of tile.ts.
// Tokens are laid out [B·S, H·D]; scores and weights P are [(b·H + h)·S + i, j]. Each head's second
// operand is first packed into the workspace `pws` as 8-column rows (zero-padded), so any S and D work.
// Under a causal mask the weights above the diagonal are taken as zero and skipped, as the reference does.
import { axpy8, tile1x8, tile4x8 } from './tile';

const MASKED: f32 = -1e9;

/** ws[r][c] = x[(b·S + r)·W + h·D + c] for r < S, c < D; zero up to D8 columns. */
function packHead(px: usize, ws: usize, b: i32, h: i32, S: i32, H: i32, D: i32): void {
  const W = H * D, D8 = (D + 7) & ~7;
  for (let r = 0; r < S; r++) {
    const src = px + (<usize>((b * S + r) * W + h * D) << 2), dst = ws + (<usize>(r * D8) << 2);
    memory.copy(dst, src, <usize>D << 2);
    if (D8 > D) memory.fill(dst + (<usize>D << 2), 0, <usize>(D8 - D) << 2);
  }
}

/** scores[(b·H+h)·S+i, j] = scale·q_i·k_j per head; −1e9 where causal and j > i. */
export function attentionScores(pq: usize, pk: usize, po: usize, ws: usize, B: i32, S: i32, H: i32, D: i32, causal: bool, scale: f32): void {
  const W = H * D, S8 = (S + 7) & ~7, lda = <usize>W << 2, ldb = <usize>S8 << 2;
  const kt = ws, tmp = ws + (<usize>(D * S8) << 2); // Kᵀ of one head [D][S8], then a 4×8 tile
  const SC = f32x4.splat(scale);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    for (let c = 0; c < D; c++) {
      const row = kt + (<usize>(c * S8) << 2);
      for (let j = 0; j < S; j++) store<f32>(row + (<usize>j << 2), load<f32>(pk + (<usize>((b * S + j) * W + h * D + c) << 2)));
      for (let j = S; j < S8; j++) store<f32>(row + (<usize>j << 2), 0);
    }
    const head = po + (<usize>((b * H + h) * S * S) << 2);
    for (let i0 = 0; i0 < S; ) {
      const nr = i0 + 4 <= S ? 4 : 1;
      const a = pq + (<usize>((b * S + i0) * W + h * D) << 2);
      const jEnd = causal ? min(S, i0 + nr) : S;
      for (let j0 = 0; j0 < jEnd; j0 += 8) {
        if (nr == 4) tile4x8(a, lda, 4, kt + (<usize>j0 << 2), ldb, D, tmp, 32);
        else tile1x8(a, 4, kt + (<usize>j0 << 2), ldb, D, tmp);
        for (let r = 0; r < nr; r++) {
          const i = i0 + r, out = head + (<usize>(i * S) << 2), t = tmp + (<usize>(r * 8) << 2);
          if (j0 + 8 <= S && (!causal || j0 + 7 <= i)) {
            v128.store(out + (<usize>j0 << 2), f32x4.mul(v128.load(t), SC));
            v128.store(out + (<usize>j0 << 2), f32x4.mul(v128.load(t, 16), SC), 16);
          } else {
            const jn = min(j0 + 8, S);
            for (let j = j0; j < jn; j++) store<f32>(out + (<usize>j << 2), causal && j > i ? MASKED : load<f32>(t + (<usize>(j - j0) << 2)) * scale);
          }
        }
      }
      if (causal) {
        const covered = min(S, (jEnd + 7) & ~7);
        for (let r = 0; r < nr; r++) {
          const out = head + (<usize>((i0 + r) * S) << 2);
          for (let j = covered; j < S; j++) store<f32>(out + (<usize>j << 2), MASKED);
        }
      }
      i0 += nr;
    }
  }
}

/** out[b·S+i, h·D+c] = Σ_j p[(b·H+h)·S+i, j]·v[b·S+j, h·D+c]. */
export function attentionApply(pp: usize, pv: usize, po: usize, ws: usize, B: i32, S: i32, H: i32, D: i32, causal: bool): void {
  const W = H * D, D8 = (D + 7) & ~7, lda = <usize>S << 2, ldb = <usize>D8 << 2;
  const vp = ws, tmp = ws + (<usize>(S * D8) << 2); // V of one head [S][D8], then [4][D8] of output
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    packHead(pv, vp, b, h, S, H, D);
    const ph = pp + (<usize>((b * H + h) * S * S) << 2);
    for (let i0 = 0; i0 < S; ) {
      const nr = i0 + 4 <= S ? 4 : 1;
      const a = ph + (<usize>(i0 * S) << 2);
      // Every row of the tile sums j ≤ i0 in full; rows past i0 add their own triangle after.
      const kc = causal ? i0 + 1 : S;
      for (let c0 = 0; c0 < D8; c0 += 8) {
        const out = tmp + (<usize>c0 << 2);
        if (nr == 4) tile4x8(a, lda, 4, vp + (<usize>c0 << 2), ldb, kc, out, ldb);
        else tile1x8(a, 4, vp + (<usize>c0 << 2), ldb, kc, out);
        if (causal) for (let r = 1; r < nr; r++) {
          for (let j = i0 + 1; j <= i0 + r; j++) axpy8(a + (<usize>(r * S + j) << 2), vp + (<usize>(j * D8 + c0) << 2), out + (<usize>(r * D8) << 2));
        }
      }
      for (let r = 0; r < nr; r++) memory.copy(po + (<usize>((b * S + i0 + r) * W + h * D) << 2), tmp + (<usize>(r * D8) << 2), <usize>D << 2);
      i0 += nr;
    }
  }
}

/** out[b·S+j, h·D+c] = Σ_i p[(b·H+h)·S+i, j]·x[b·S+i, h·D+c] (Pᵀ read in place). */
export function attentionApplyT(pp: usize, px: usize, po: usize, ws: usize, B: i32, S: i32, H: i32, D: i32, causal: bool): void {
  const W = H * D, D8 = (D + 7) & ~7, astep = <usize>S << 2, ldb = <usize>D8 << 2;
  const xp = ws, tmp = ws + (<usize>(S * D8) << 2);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    packHead(px, xp, b, h, S, H, D);
    const ph = pp + (<usize>((b * H + h) * S * S) << 2);
    for (let j0 = 0; j0 < S; ) {
      const nr = j0 + 4 <= S ? 4 : 1;
      // Causal: column j of P is zero above row j. Every row of the tile sums i ≥ j0 + nr − 1 in
      // full; rows before that add their own triangle after.
      const k0 = causal ? j0 + nr - 1 : 0;
      const a = ph + (<usize>(k0 * S + j0) << 2);
      for (let c0 = 0; c0 < D8; c0 += 8) {
        const out = tmp + (<usize>c0 << 2), bp = xp + (<usize>(k0 * D8 + c0) << 2);
        if (nr == 4) tile4x8(a, 4, astep, bp, ldb, S - k0, out, ldb);
        else tile1x8(a, astep, bp, ldb, S - k0, out);
        if (causal) for (let r = 0; r < nr - 1; r++) {
          for (let i = j0 + r; i < k0; i++) axpy8(ph + (<usize>(i * S + j0 + r) << 2), xp + (<usize>(i * D8 + c0) << 2), out + (<usize>(r * D8) << 2));
        }
      }
      for (let r = 0; r < nr; r++) memory.copy(po + (<usize>((b * S + j0 + r) * W + h * D) << 2), tmp + (<usize>(r * D8) << 2), <usize>D << 2);
      j0 += nr;
    }
  }
}
