import { Tensor, type F32 } from '../../tensor/tensor.js';
import { matmulShape } from '../shapes.js';
import { matmul as refMatmul, matmulAccumulate as refMatmulAccumulate } from '../reference/matmul.js';
import { errors } from '../../errors.js';
import type { WasmModule } from './memory.js';
import type { MatmulForm } from '../types.js';
import { simd } from './simd-kernel.js';

/** Fewest rows of A for which B's panels go outside (see the call). */
const PANELS_MIN_ROWS = 16;
/**
 * Most rows of A for which nt takes the dot-product kernel (simd/dot.ts), B read in place, rather
 * than packing all of B into panels first.
 */
const DOT_ROWS = 16;
/** gemm's flag: add the product to C (simd/gemm.ts). */
const ACCUMULATE = 4;

/**
 * How the wasm-simd matmul walks its operands: `auto` streams the smaller one, `pack` copies strided
 * operands before reusing them. Benchmarks set the layout the kernel had before (rows, no packing)
 * to time against it in one process; nothing else changes it.
 */
export const matmulLayout: { order: 'auto' | 'rows' | 'panels'; pack: boolean; dotRows: number } = { order: 'auto', pack: true, dotRows: DOT_ROWS };

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
  const { M, N } = matmulShape(a, b, form);
  const out = Tensor.empty([M, N]) as F32;
  const c = gemm(m, a, b, form, null);
  if (!c) out.data.fill(0);
  else m.getRows(c.at, M, N, c.ld, out.data);
  return out;
});

/**
 * into += the product. A resident `into` (a parameter's gradient) whose rows the kernel writes as
 * they are (whole 8-column panels, or the dot-product form) is summed in place by the kernel itself:
 * no product to copy out of the module, and no copy back in to add it (a weight gradient's fixed
 * cost, paid by every expert buffer). Otherwise the product is computed as `matmul` does and added.
 */
export const matmulAccumulate = simd(refMatmulAccumulate, (m, into, a, b, form) => {
  const { M, N } = matmulShape(a, b, form);
  if (into.rank !== 2 || into.shape[0] !== M || into.shape[1] !== N) throw errors.shapeMismatch('matmulAccumulate', 'accumulator vs product', into.shape, [M, N]);
  if ((N % 8 === 0 || dotForm(form, M)) && m.isResident(into.data)) return void gemm(m, a, b, form, into);
  const c = gemm(m, a, b, form, null);
  if (!c) return;
  const n = M * N, pi = m.input(into.data);
  if (c.ld !== N) {
    const dense = m.space(n);
    m.getRows(c.at, M, N, c.ld, m.f32(dense, n));
    m.fn.accumulate!(pi, dense, n);
  } else m.fn.accumulate!(pi, c.at, n);
  if (!m.isResident(into.data)) into.data.set(m.f32(pi, n));
});

/** Whether an nt product of M rows takes the dot-product kernel. */
const dotForm = (form: MatmulForm, M: number) => form === 'nt' && M <= matmulLayout.dotRows;

/**
 * Runs the product in the module: into `into` (resident, its rows as the kernel writes them), adding
 * to it, or into scratch, whose address and row stride in floats it returns (null for an empty product).
 */
function gemm(m: WasmModule, a: F32, b: F32, form: MatmulForm, into: F32 | null): { at: number; ld: number } | null {
  const { M, K, N } = matmulShape(a, b, form);
  if (M === 0 || N === 0 || K === 0) return null;
  const N8 = (N + 7) & ~7;
  m.begin();
  if (dotForm(form, M)) {
    const pa = m.input(a.data), pb = m.input(b.data);
    const pc = into ? into.data.byteOffset : m.space(M * N);
    m.fn.gemmNT!(pa, pb, pc, M, K, N, into ? 1 : 0);
    return { at: pc, ld: N };
  }
  // Stream the smaller operand (simd/gemm.ts), its strided operands copied once where they are
  // reused. Under 16 rows a panel would serve three blocks of rows or fewer: copying B costs more
  // than it saves, and a lone row keeps the 32-column tile (a decode step's matmul).
  const { order, pack } = matmulLayout;
  const panelsOuter = order === 'rows' ? false : order === 'panels' || (M >= PANELS_MIN_ROWS && M * K <= K * N8);
  const flags = (panelsOuter ? 1 : 0) | (pack ? 2 : 0) | (into ? ACCUMULATE : 0);
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
    pc = into ? into.data.byteOffset : m.space(M * N8);
    m.fn.packPanels!(pw, pb, N, K);
    m.fn.gemm!(pa, pb, pc, M, K, N8, K * 4, 4, K * 32, 32, flags, scratch);
  } else {
    const pb = m.inputRows(b.data, K, N, N8);
    pc = into ? into.data.byteOffset : m.space(M * N8);
    // nn: A [M,K] row-major; tn: A = Xᵀ for X [K,M], row i at 4·i bytes, step M·4 along K.
    if (transposed) m.fn.gemm!(pa, pb, pc, M, K, N8, 4, M * 4, 32, N8 * 4, flags, scratch);
    else m.fn.gemm!(pa, pb, pc, M, K, N8, K * 4, 4, 32, N8 * 4, flags, scratch);
  }
  return { at: pc, ld: N8 };
}
