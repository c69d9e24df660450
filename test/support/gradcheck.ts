import assert from 'node:assert/strict';
import type { F32 } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/nn/random.js';

/**
 * Central finite differences in float64: perturbs up to `samples` coordinates of `x` by ±eps,
 * re-evaluates the scalar `loss`, and compares with `analytic` (the gradient the backward pass gave).
 */
export async function gradcheck(
  what: string,
  x: F32,
  analytic: ArrayLike<number>,
  loss: () => Promise<number>,
  { eps = 1e-6, tol = 1e-5, samples = 24, seed = 1 } = {},
): Promise<void> {
  assert.equal(x.dtype, 'f64', `${what}: gradient checks need float64 tensors`);
  const rng = new Rng(seed);
  const idx = x.size <= samples ? [...Array(x.size).keys()] : Array.from({ length: samples }, () => rng.int(x.size));
  for (const i of idx) {
    const keep = x.data[i]!;
    x.data[i] = keep + eps;
    const up = await loss();
    x.data[i] = keep - eps;
    const down = await loss();
    x.data[i] = keep;
    const numeric = (up - down) / (2 * eps);
    const a = analytic[i]!;
    const err = Math.abs(numeric - a) / Math.max(1e-3, Math.abs(numeric) + Math.abs(a));
    assert.ok(err <= tol, `${what}[${i}]: analytic ${a} vs numeric ${numeric} (relative error ${err.toExponential(2)})`);
  }
}

/** Σ y ⊙ r: a scalar whose gradient with respect to y is r. */
export function dot(y: F32, r: F32): number {
  let s = 0;
  for (let i = 0; i < y.size; i++) s += y.data[i]! * r.data[i]!;
  return s;
}
