// AssemblyScript: four-lane float32 math shared by the kernels in this folder.

/**
 * tanh as the [13/6] rational function of the clamped input, the float form Eigen uses
 * (MathFunctionsImpl.h). The clamp is pmin/pmax (one instruction each, where min/max take
 * several for their NaN and −0 rules) with the input first, so NaN in gives NaN out.
 */
// @ts-ignore: decorator
@inline export function tanh4(u: v128): v128 {
  const x = f32x4.pmax(f32x4.pmin(u, f32x4.splat(7.90531110763549805)), f32x4.splat(-7.90531110763549805));
  const x2 = f32x4.mul(x, x);
  let p = f32x4.splat(-2.76076847742355e-16);
  p = f32x4.add(f32x4.splat(2.00018790482477e-13), f32x4.mul(x2, p));
  p = f32x4.add(f32x4.splat(-8.60467152213735e-11), f32x4.mul(x2, p));
  p = f32x4.add(f32x4.splat(5.12229709037114e-8), f32x4.mul(x2, p));
  p = f32x4.add(f32x4.splat(1.48572235717979e-5), f32x4.mul(x2, p));
  p = f32x4.add(f32x4.splat(6.37261928875436e-4), f32x4.mul(x2, p));
  p = f32x4.add(f32x4.splat(4.89352455891786e-3), f32x4.mul(x2, p));
  p = f32x4.mul(x, p);
  let q = f32x4.splat(1.19825839466702e-6);
  q = f32x4.add(f32x4.splat(1.18534705686654e-4), f32x4.mul(x2, q));
  q = f32x4.add(f32x4.splat(2.268434632439e-3), f32x4.mul(x2, q));
  q = f32x4.add(f32x4.splat(4.89352518554385e-3), f32x4.mul(x2, q));
  return f32x4.div(p, q);
}

/**
 * e^x, Cephes expf's method: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r, and
 * 2^n built in the exponent bits (as 2^(n−1)·2, so n = 128 near the top of the range still fits).
 * Below −86.6 (a masked score, −∞) the result is exactly 0; above ln(FLT_MAX) it is +∞; NaN stays NaN.
 */
// @ts-ignore: decorator
@inline export function exp4(v: v128): v128 {
  const x = f32x4.pmax(f32x4.pmin(v, f32x4.splat(88.72283)), f32x4.splat(-86.6));
  const fx = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(fx, f32x4.splat(0.693359375))), f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  const pow2n1 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(fx), i32x4.splat(126)), 23);
  const e = f32x4.mul(f32x4.mul(p, pow2n1), f32x4.splat(2));
  const low = v128.bitselect(f32x4.splat(0), e, f32x4.lt(v, f32x4.splat(-86.6)));
  return v128.bitselect(f32x4.splat(Infinity), low, f32x4.gt(v, f32x4.splat(88.72283)));
}

/** The scalar e^x of `exp4`, for row tails (the same result as lane 0 of exp4). */
export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/** σ(x) = 1/(1 + e^−x). */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(x))));
}

/** The sum of four lanes. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** The largest of four lanes (NaN if any lane is). */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}
