// AssemblyScript: C[M,N] = A[M,K]·B[K,N] in float32 over the register tiles of tile.ts.
import { tile1x32, tile1x8, tile4x8 } from './tile';

/**
 * A is read with row stride `lda` and step `astep` bytes (row-major: K·4 and 4; a transposed [K,M]
 * operand: 4 and M·4). B is read as panels of 8 columns: panel p at pb + p·panel bytes, its row k
 * at + k·ldb (row-major B with N a multiple of 8: panel 32, ldb 4N; packed panels: panel 32K,
 * ldb 32). C is row-major [M, N] with N a multiple of 8. Rows past the last whole 4 take the 1-row
 * tiles, 32 columns at a time where they fit.
 */
export function gemm(pa: usize, pb: usize, pc: usize, M: i32, K: i32, N: i32, lda: usize, astep: usize, panel: usize, ldb: usize): void {
  const ldc = <usize>N << 2;
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const a = pa + <usize>i * lda, c = pc + <usize>i * ldc;
    for (let p = 0; p < N; p += 8) tile4x8(a, lda, astep, pb + <usize>(p >> 3) * panel, ldb, K, c + (<usize>p << 2), ldc);
  }
  for (; i < M; i++) {
    const a = pa + <usize>i * lda, c = pc + <usize>i * ldc;
    let p = 0;
    for (; p + 32 <= N; p += 32) tile1x32(a, astep, pb + <usize>(p >> 3) * panel, panel, ldb, K, c + (<usize>p << 2));
    for (; p < N; p += 8) tile1x8(a, astep, pb + <usize>(p >> 3) * panel, ldb, K, c + (<usize>p << 2));
  }
}

/** Packs row-major src [N, K] as Bᵀ panels [N8/8][K][8] at dst, zero past column N. */
export function packPanels(src: usize, dst: usize, N: i32, K: i32): void {
  const N8 = (N + 7) & ~7;
  for (let p = 0; p < N8; p += 8) {
    const base = dst + (<usize>p * <usize>K << 2);
    for (let l = 0; l < 8; l++) {
      const n = p + l;
      let o = base + (<usize>l << 2);
      if (n < N) {
        let s = src + (<usize>n * <usize>K << 2);
        for (let k = 0; k < K; k++) {
          store<f32>(o, load<f32>(s));
          s += 4;
          o += 32;
        }
      } else for (let k = 0; k < K; k++) {
        store<f32>(o, 0);
        o += 32;
      }
    }
  }
}
