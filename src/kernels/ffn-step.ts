import type { Backend } from './backend.js';
import type { F32 } from '../tensor/tensor.js';

/**
 * The six matmuls of one expert FFN step as the layers issue them: forward X·W1 and H·W2, input
 * gradients dY·W2ᵀ and dH·W1ᵀ, weight gradients Hᵀ·dY and Xᵀ·dH (12·T·d·f FLOPs). Used to measure
 * throughput (bench/kernels.ts) and to calibrate the cost model.
 */
export function ffnStepMatmuls(be: Backend, x: F32, w1: F32, w2: F32, dy: F32): () => Promise<void> {
  return async () => {
    const h = await be.ops.matmul(x, w1, 'nn');
    await be.ops.matmul(h, w2, 'nn');
    const dh = await be.ops.matmul(dy, w2, 'nt');
    await be.ops.matmul(dh, w1, 'nt');
    await be.ops.matmul(h, dy, 'tn');
    await be.ops.matmul(x, dh, 'tn');
  };
}
