import { Tensor, type F32 } from '../../tensor/tensor.js';
import { matmulShape } from '../shapes.js';
import { matmul as refMatmul } from '../reference/matmul.js';
import { simd } from './simd-kernel.js';

/**
 * The three expert matmul forms on the 4×8 register tile (simd/tile.ts), rows past the last whole 4
 * on a 1-row tile (so a single token costs one row, not four). A is read in place, transposed or not
 * (tn reads Xᵀ with strides); B is copied with its columns padded to 8 when row-major (nn, tn), or
 * packed into 8-column panels inside the module (nt).
 */
export const matmul = simd(refMatmul, (m, a, b, form) => {
  const { M, K, N } = matmulShape(a, b, form);
  if (M === 0 || N === 0 || K === 0) return Tensor.zeros([M, N]) as F32;
  const N8 = (N + 7) & ~7;
  const out = Tensor.empty([M, N]) as F32;
  let pc: number;
  if (form === 'nt') {
    const [pa, pw, pb, c] = m.frame(M * K, N * K, N8 * K, M * N8);
    m.put(pa!, a.data);
    m.put(pw!, b.data);
    m.fn.packPanels!(pw!, pb!, N, K);
    m.fn.gemm!(pa!, pb!, c!, M, K, N8, K * 4, 4, K * 32, 32);
    pc = c!;
  } else {
    const [pa, pb, c] = m.frame(M * K, K * N8, M * N8);
    m.put(pa!, a.data);
    m.putRows(pb!, b.data, K, N, N8);
    // nn: A [M,K] row-major; tn: A = Xᵀ for X [K,M], row i at 4·i bytes, step M·4 along K.
    if (form === 'tn') m.fn.gemm!(pa!, pb!, c!, M, K, N8, 4, M * 4, 32, N8 * 4);
    else m.fn.gemm!(pa!, pb!, c!, M, K, N8, K * 4, 4, 32, N8 * 4);
    pc = c!;
  }
  m.getRows(pc, M, N, N8, out.data);
  return out;
});
