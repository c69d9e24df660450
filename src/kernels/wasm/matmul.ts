import { Tensor, type F32 } from '../../tensor/tensor.js';
import { matmulShape } from '../shapes.js';
import { matmul as refMatmul } from '../reference/matmul.js';
import { simd } from './simd-kernel.js';

/** Fewest rows of A for which B's panels go outside (see the call). */
const PANELS_MIN_ROWS = 16;

/**
 * How the wasm-simd matmul walks its operands: `auto` streams the smaller one, `pack` copies strided
 * operands before reusing them. Benchmarks set the layout the kernel had before (rows, no packing)
 * to time against it in one process; nothing else changes it.
 */
export const matmulLayout: { order: 'auto' | 'rows' | 'panels'; pack: boolean } = { order: 'auto', pack: true };

/**
 * The three expert matmul forms on the 4×8 register tile (simd/tile.ts), rows past the last whole 4
 * on a 1-row tile (so a single token costs one row, not four). A is read in place (tn reads Xᵀ with
 * strides, or transposes it first when it is the operand streamed); B row-major (nn, tn) is read in
 * place when its columns are a multiple of 8 and it is resident (a parameter), else copied with its
 * columns padded to 8; for nt, B is packed into 8-column panels inside the module. The loop order
 * streams whichever of A and B has fewer values: the other stays in cache, where streaming a weight
 * gradient's [rows, 2048] operand from memory once per four columns made its cost per row grow
 * with the rows.
 */
export const matmul = simd(refMatmul, (m, a, b, form) => {
  const { M, K, N } = matmulShape(a, b, form);
  if (M === 0 || N === 0 || K === 0) return Tensor.zeros([M, N]) as F32;
  const N8 = (N + 7) & ~7;
  const out = Tensor.empty([M, N]) as F32;
  m.begin();
  // Stream the smaller operand (simd/gemm.ts), its strided operands copied once where they are
  // reused. Under 16 rows a panel would serve three blocks of rows or fewer: copying B costs more
  // than it saves, and a lone row keeps the 32-column tile (a decode step's matmul).
  const { order, pack } = matmulLayout;
  const panelsOuter = order === 'rows' ? false : order === 'panels' || (M >= PANELS_MIN_ROWS && M * K <= K * N8);
  const flags = (panelsOuter ? 1 : 0) | (pack ? 2 : 0);
  let pa = m.input(a.data);
  let transposed = form === 'tn';
  if (transposed && panelsOuter && pack) {
    // Xᵀ read in place steps M·4 bytes along K, a power of two apart for the usual row counts:
    // streamed once per panel, it would not stay in cache. Transposed once, it does.
    const at = m.space(M * K);
    m.fn.transpose!(pa, at, K, M);
    pa = at;
    transposed = false;
  }
  const scratch = m.space(K * 8);
  let pc: number;
  if (form === 'nt') {
    const pw = m.input(b.data), pb = m.space(N8 * K);
    pc = m.space(M * N8);
    m.fn.packPanels!(pw, pb, N, K);
    m.fn.gemm!(pa, pb, pc, M, K, N8, K * 4, 4, K * 32, 32, flags, scratch);
  } else {
    const pb = m.inputRows(b.data, K, N, N8);
    pc = m.space(M * N8);
    // nn: A [M,K] row-major; tn: A = Xᵀ for X [K,M], row i at 4·i bytes, step M·4 along K.
    if (transposed) m.fn.gemm!(pa, pb, pc, M, K, N8, 4, M * 4, 32, N8 * 4, flags, scratch);
    else m.fn.gemm!(pa, pb, pc, M, K, N8, K * 4, 4, 32, N8 * 4, flags, scratch);
  }
  m.getRows(pc, M, N, N8, out.data);
  return out;
});
