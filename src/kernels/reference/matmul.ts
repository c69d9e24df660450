import type { KernelConfig } from '../types.js';
import { like } from './util.js';
import { matmulShape } from '../shapes.js';
import { expectSameShape } from '../../tensor/check.js';
import { accumulate } from './optimizer.js';

/**
 * Float64-accumulating matmul in the three forms. The forward of a Linear layer is `nn`; its
 * backward is `nt` (input gradient dY·Wᵀ) and `tn` (weight gradient Xᵀ·dY).
 */
export const matmul: KernelConfig<'matmul'> = {
  kernel: 'matmul',
  backend: 'reference',
  run(_ctx, a, b, form) {
    const { M, K, N } = matmulShape(a, b, form);
    const out = like(a, [M, N]);
    const A = a.data, B = b.data, C = out.data;
    // a(i,k) and b(k,j) addressed per form; the accumulation order is the same for all three.
    const aAt = form === 'tn' ? (i: number, k: number) => A[k * M + i]! : (i: number, k: number) => A[i * K + k]!;
    const bAt = form === 'nt' ? (k: number, j: number) => B[j * K + k]! : (k: number, j: number) => B[k * N + j]!;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += aAt(i, k) * bAt(k, j);
        C[i * N + j] = s;
      }
    }
    return out;
  },
};

/** into += a·b in the given form: the product as `matmul` computes it, then added (float64 sums either way). */
export const matmulAccumulate: KernelConfig<'matmulAccumulate'> = {
  kernel: 'matmulAccumulate',
  backend: 'reference',
  run(ctx, into, a, b, form) {
    const y = matmul.run(ctx, a, b, form) as typeof into;
    expectSameShape('matmulAccumulate', into, y);
    accumulate.run(ctx, into, y);
  },
};
