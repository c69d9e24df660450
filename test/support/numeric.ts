import assert from 'node:assert/strict';
import { Tensor, type F32, type I32 } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/nn/random.js';

/** max|a − b| / max|b| (norm-wise relative error), NaN positions required to agree. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) return Infinity;
      continue;
    }
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y) return Infinity;
      continue;
    }
    diff = Math.max(diff, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(y));
  }
  return scale === 0 ? diff : diff / scale;
}

export function expectClose(actual: Tensor | number, expected: Tensor | number, tol = 1e-4, what = ''): void {
  const a = typeof actual === 'number' ? [actual] : actual.data;
  const e = typeof expected === 'number' ? [expected] : expected.data;
  if (typeof actual !== 'number' && typeof expected !== 'number') assert.deepEqual(actual.shape, expected.shape, `${what} shape`);
  const err = relError(a, e);
  assert.ok(err <= tol, `${what}: relative error ${err.toExponential(2)} > ${tol}`);
}

export function randn(rng: Rng, shape: number[], std = 1, dtype: 'f32' | 'f64' = 'f32'): F32 {
  const t = Tensor.zeros(shape, dtype) as F32;
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * std;
  return t;
}

export function randInts(rng: Rng, shape: number[], limit: number): I32 {
  const t = Tensor.zeros(shape, 'i32');
  for (let i = 0; i < t.size; i++) t.data[i] = rng.int(limit);
  return t;
}

export function toF64(t: F32): F32 {
  return new Tensor('f64', t.shape, Float64Array.from(t.data)) as unknown as F32;
}
