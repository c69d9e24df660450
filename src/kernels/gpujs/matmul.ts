import type { KernelConfig } from '../types.js';
import { matmulShape } from '../shapes.js';
import { Tensor } from '../../tensor/tensor.js';
import { bucket, type GpuJsContext } from './context.js';
import { accumulate } from './arith.js';

/**
 * The rows4 form (measured fastest on gpu.js webasm): each thread returns 4 adjacent output rows of
 * one column, so SIMD lanes span columns and one gathered b value feeds four multiply-adds.
 * Output cells are [M/4][N][4]; M is padded to a bucket (a multiple of 4), and for `tn` the summed
 * dimension K = tokens is bucketed too (zero rows add nothing).
 */
const body = {
  nn: { a: (r: string) => `a[${r}][i]`, b: 'b[i][this.thread.x]' },
  nt: { a: (r: string) => `a[${r}][i]`, b: 'b[this.thread.x][i]' },
  tn: { a: (r: string) => `a[i][${r}]`, b: 'b[i][this.thread.x]' },
} as const;

function source(form: keyof typeof body): string {
  const { a, b } = body[form];
  const r = (o: number) => `this.thread.y * 4 + ${o}`;
  return `function (a, b) {
    let s0 = 0; let s1 = 0; let s2 = 0; let s3 = 0;
    for (let i = 0; i < this.constants.K; i++) {
      const bv = ${b};
      s0 += ${a(r(0))} * bv; s1 += ${a(r(1))} * bv; s2 += ${a(r(2))} * bv; s3 += ${a(r(3))} * bv;
    }
    return [s0, s1, s2, s3];
  }`;
}

const sources = { nn: source('nn'), nt: source('nt'), tn: source('tn') };

export const matmul: KernelConfig<'matmul', GpuJsContext> = {
  kernel: 'matmul',
  backend: 'gpujs',
  async run(ctx, a, b, form) {
    const { M, K, N } = matmulShape(a, b, form);
    const out = Tensor.zeros([M, N]);
    if (M === 0 || N === 0) return out;
    if (K === 0) return out;
    const Mb = bucket(M);
    const Kb = form === 'tn' ? bucket(K) : K;
    const k = ctx.kernel(`matmul:${form}:${Mb}:${Kb}:${N}`, sources[form], {
      output: [N, Mb / 4],
      constants: { K: Kb },
      returnType: 'Array(4)',
    });
    const A = form === 'tn' ? padCols(ctx, a.data as Float32Array, K, M, Kb, Mb) : ctx.rows(a.data, M, K, Mb, 'mm.a');
    const B = form === 'nt' ? ctx.rows(b.data, N, K, N, 'mm.b') : ctx.rows(b.data, K, N, Kb, 'mm.b');
    const r = (await k(A, B)) as unknown as Float32Array[][];
    deinterleave(r, out.data, M, N);
    return out;
  },
};

/** into += a·b: the product on the device, summed into `into` (a parameter's gradient) by the in-place sum. */
export const matmulAccumulate: KernelConfig<'matmulAccumulate', GpuJsContext> = {
  kernel: 'matmulAccumulate',
  backend: 'gpujs',
  async run(ctx, into, a, b, form) {
    await accumulate.run(ctx, into, await matmul.run(ctx, a, b, form));
  },
};

/** a[K,M] padded to [Kb, Mb] with zeros (Xᵀ·dY sums over tokens and writes M = d rows in fours). */
function padCols(ctx: GpuJsContext, a: Float32Array, K: number, M: number, Kb: number, Mb: number) {
  if (M === Mb) return ctx.rows(a, K, M, Kb, 'mm.a');
  const p = new Float32Array(Kb * Mb);
  for (let k = 0; k < K; k++) p.set(a.subarray(k * M, k * M + M), k * Mb);
  return ctx.rows(p, Kb, Mb, Kb, 'mm.a');
}

/** [M/4][N][4] cells → row-major [M][N], keeping only the first M (unpadded) rows. */
function deinterleave(r: Float32Array[][], out: Float32Array, M: number, N: number): void {
  const leaf = r[0]![0]!;
  const last = r[r.length - 1]![N - 1]!;
  const flat =
    last.buffer === leaf.buffer && last.byteOffset === leaf.byteOffset + ((r.length - 1) * N + N - 1) * 16
      ? new Float32Array(leaf.buffer, leaf.byteOffset, r.length * N * 4)
      : null;
  for (let q = 0; q * 4 < M; q++) {
    const rowsHere = Math.min(4, M - q * 4);
    for (let x = 0; x < N; x++) {
      const cell = flat ? null : r[q]![x]!;
      const s = (q * N + x) * 4;
      for (let l = 0; l < rowsHere; l++) out[(q * 4 + l) * N + x] = flat ? flat[s + l]! : cell![l]!;
    }
  }
}
