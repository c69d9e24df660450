// AssemblyScript: C[M,N] = A[M,K]·B[K,N] in float32 over the register tiles of tile.ts.
import { tile1x32, tile1x8, tile4x8 } from './tile';

/** gemm's flags: the loop order, and whether strided operands are copied before they are reused. */
const PANELS_OUTER = 1, PACK = 2, ACCUMULATE = 4;

/**
 * A is read with row stride `lda` and step `astep` bytes (row-major: K·4 and 4; a transposed [K,M]
 * operand: 4 and M·4). B is read as panels of 8 columns: panel p at pb + p·panel bytes, its row k
 * at + k·ldb (row-major B with N a multiple of 8: panel 32, ldb 4N; packed panels: panel 32K,
 * ldb 32). C is row-major [M, N] with N a multiple of 8. Rows past the last whole 4 take the 1-row
 * tiles, 32 columns at a time where they fit.
 *
 * Flag 1 (panels outer) walks B's panels in the outer loop and A's rows inside: each panel is read once
 * and A is streamed once per panel, where the rows-outer order streams all of B once per four rows.
 * The caller picks the order whose streamed operand is the smaller (it then stays in cache): a
 * weight gradient over many rows (Xᵀ·dY with dY [rows, 2048]) otherwise reads dY from memory once
 * per four columns of X. With flag 2 (pack), a strided panel (row-major B) is first copied to `scratch` (K·32 bytes):
 * its rows lie a power of two apart, which a cache holds few of; so, rows outer, is each block of
 * four rows of a transposed A. With flag 4 (accumulate), the product is added to C's values
 * instead of replacing them: a weight gradient summed straight into the parameter's.
 */
export function gemm(pa: usize, pb: usize, pc: usize, M: i32, K: i32, N: i32, lda: usize, astep: usize, panel: usize, ldb: usize, flags: i32, scratch: usize): void {
  const ldc = <usize>N << 2;
  const pack = (flags & PACK) != 0, acc = (flags & ACCUMULATE) != 0;
  if (flags & PANELS_OUTER) {
    const M4 = M & ~3;
    for (let p = 0; p < N; p += 8) {
      let b = pb + <usize>(p >> 3) * panel, bstep = ldb;
      if (pack && ldb != 32) {
        for (let k = 0, from = b, to = scratch; k < K; k++, from += ldb, to += 32) {
          v128.store(to, v128.load(from));
          v128.store(to, v128.load(from, 16), 16);
        }
        b = scratch;
        bstep = 32;
      }
      const cp = pc + (<usize>p << 2);
      let i = 0;
      for (; i < M4; i += 4) tile4x8(pa + <usize>i * lda, lda, astep, b, bstep, K, cp + <usize>i * ldc, ldc, acc);
      for (; i < M; i++) tile1x8(pa + <usize>i * lda, astep, b, bstep, K, cp + <usize>i * ldc, acc);
    }
    return;
  }
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    let a = pa + <usize>i * lda, ra = lda, ka = astep;
    if (pack && astep != 4) {
      // A transposed in place: its four rows' values at each k are adjacent, but k steps a power
      // of two apart. Copied once as [K][4], they are read by every panel from one cache-friendly block.
      for (let k = 0, from = a, to = scratch; k < K; k++, from += astep, to += 16) v128.store(to, v128.load(from));
      a = scratch;
      ra = 4;
      ka = 16;
    }
    const c = pc + <usize>i * ldc;
    for (let p = 0; p < N; p += 8) tile4x8(a, ra, ka, pb + <usize>(p >> 3) * panel, ldb, K, c + (<usize>p << 2), ldc, acc);
  }
  for (; i < M; i++) {
    const a = pa + <usize>i * lda, c = pc + <usize>i * ldc;
    let p = 0;
    for (; p + 32 <= N; p += 32) tile1x32(a, astep, pb + <usize>(p >> 3) * panel, panel, ldb, K, c + (<usize>p << 2), acc);
    for (; p < N; p += 8) tile1x8(a, astep, pb + <usize>(p >> 3) * panel, ldb, K, c + (<usize>p << 2), acc);
  }
}

/**
 * Packs row-major src [N, K] as Bᵀ panels [N8/8][K][8] at dst, zero past column N. A whole panel
 * moves four values of its eight rows at a time through two 4×4 transposes (a weight's backward
 * packs all of it every call: one copy of the weight, which a scalar loop made a third of the
 * call's fixed cost); a partial panel and the last K % 4 values go one at a time.
 */
export function packPanels(src: usize, dst: usize, N: i32, K: i32): void {
  const N8 = (N + 7) & ~7, K4 = K & ~3, row = <usize>K << 2;
  for (let p = 0; p < N8; p += 8) {
    const base = dst + (<usize>p * <usize>K << 2);
    let k = 0;
    if (p + 8 <= N) {
      const s0 = src + <usize>p * row;
      for (; k < K4; k += 4) {
        const at = s0 + (<usize>k << 2), o = base + (<usize>k << 5);
        transpose4(v128.load(at), v128.load(at + row), v128.load(at + 2 * row), v128.load(at + 3 * row), o);
        transpose4(v128.load(at + 4 * row), v128.load(at + 5 * row), v128.load(at + 6 * row), v128.load(at + 7 * row), o + 16);
      }
    }
    for (let l = 0; l < 8; l++) {
      const n = p + l;
      let o = base + (<usize>l << 2) + (<usize>k << 5);
      if (n < N) {
        let s = src + (<usize>n * <usize>K << 2) + (<usize>k << 2);
        for (let j = k; j < K; j++) {
          store<f32>(o, load<f32>(s));
          s += 4;
          o += 32;
        }
      } else for (let j = k; j < K; j++) {
        store<f32>(o, 0);
        o += 32;
      }
    }
  }
}

/** Rows r0..r3 (four values each) stored as four columns, 32 bytes apart from `o`. */
// @ts-ignore: decorator
@inline function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, o: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(o, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(o + 32, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(o + 64, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(o + 96, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/** dst [cols, rows] = src [rows, cols]ᵀ, in blocks of 8×8 so both sides stay in cache. */
export function transpose(src: usize, dst: usize, rows: i32, cols: i32): void {
  for (let r0 = 0; r0 < rows; r0 += 8) {
    const r1 = min(r0 + 8, rows);
    for (let c0 = 0; c0 < cols; c0 += 8) {
      const c1 = min(c0 + 8, cols);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) store<f32>(dst + ((<usize>c * <usize>rows + <usize>r) << 2), load<f32>(src + ((<usize>r * <usize>cols + <usize>c) << 2)));
    }
  }
}
