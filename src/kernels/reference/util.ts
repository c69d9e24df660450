import { Tensor, type F32, type I32 } from '../../tensor/tensor.js';
import { errors } from '../../errors.js';

/**
 * The reference backend computes in float64 and stores in the dtype of its first float input, so
 * the same kernels serve as the f32 test oracle and, fed f64 tensors, as the float64 model that
 * finite-difference gradient checks need.
 */
export function like(x: F32, shape: readonly number[]): F32 {
  return Tensor.zeros(shape, x.dtype) as F32;
}

export function checkIds(op: string, ids: I32, limit: number): void {
  const d = ids.data;
  for (let i = 0; i < d.length; i++) {
    if (d[i]! < 0 || d[i]! >= limit) throw errors.indexOutOfRange(op, d[i]!, limit, i);
  }
}
