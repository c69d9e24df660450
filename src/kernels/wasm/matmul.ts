import { Tensor, type F32 } from '../../tensor/tensor.js';
import { matmulShape } from '../shapes.js';
import { matmul as refMatmul } from '../reference/matmul.js';
import { simd } from './simd-kernel.js';

/**
 * The three expert matmul forms on the 4×8 register tile (simd/tile.ts), rows past the last whole 4
 * on a 1-row tile (so a single token costs one row, not four). A is read in place, transposed or not
 * (tn reads Xᵀ with strides); B row-major (nn, tn) is read in place when its columns are a multiple
 * of 8 and it is resident (a parameter), else copied with its columns padded to 8; for nt, B is
 * packed into 8-column panels inside the module.
 */
export const matmul = simd(refMatmul, (m, a, b, form) => {
  const { M, K, N } = matmulShape(a, b, form);
  if (M === 0 || N === 0 || K === 0) return Tensor.zeros([M, N]) as F32;
  const N8 = (N + 7) & ~7;
  const out = Tensor.empty([M, N]) as F32;
  m.begin();
  const pa = m.input(a.data);
  let pc: number;
  if (form === 'nt') {
    const pw = m.input(b.data), pb = m.space(N8 * K);
    pc = m.space(M * N8);
    m.fn.packPanels!(pw, pb, N, K);
    m.fn.gemm!(pa, pb, pc, M, K, N8, K * 4, 4, K * 32, 32);
  } else {
    const pb = m.inputRows(b.data, K, N, N8);
    pc = m.space(M * N8);
    // nn: A [M,K] row-major; tn: A = Xᵀ for X [K,M], row i at 4·i bytes, step M·4 along K.
    if (form === 'tn') m.fn.gemm!(pa, pb, pc, M, K, N8, 4, M * 4, 32, N8 * 4);
    else m.fn.gemm!(pa, pb, pc, M, K, N8, K * 4, 4, 32, N8 * 4);
  }
  m.getRows(pc, M, N, N8, out.data);
  return out;
});
