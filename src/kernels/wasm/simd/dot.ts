// AssemblyScript: C[M,N] = A[M,K]·B[N,K]ᵀ as dot products of rows, both operands read in place.
// For few rows of A: the panel form (gemm.ts) first packs all of B, a weight's backward packing
// the whole weight every call, where a handful of rows then read it once.

/** Four lanes summed to one. */
// @ts-ignore: decorator
@inline function hsum4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  // [Σs0, Σs1, Σs2, Σs3]: pairs of lanes added, then pairs of pairs.
  const a = f32x4.add(v128.shuffle<f32>(s0, s1, 0, 4, 1, 5), v128.shuffle<f32>(s0, s1, 2, 6, 3, 7));
  const b = f32x4.add(v128.shuffle<f32>(s2, s3, 0, 4, 1, 5), v128.shuffle<f32>(s2, s3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(a, b, 0, 1, 4, 5), v128.shuffle<f32>(a, b, 2, 3, 6, 7));
}

/** Σ_k a[k]·b[k] over the last K % 4 values, from k0 on (scalar). */
// @ts-ignore: decorator
@inline function tail(a: usize, b: usize, k0: i32, K: i32): f32 {
  let s: f32 = 0;
  for (let k = k0; k < K; k++) s += load<f32>(a + (<usize>k << 2)) * load<f32>(b + (<usize>k << 2));
  return s;
}

/**
 * C = A·Bᵀ, A [M,K] and B [N,K] row-major, C [M,N] row-major (with `acc`, C += it). Four rows of
 * B at a time, against each row of A in pairs: the four stay in cache while A's rows pass, so B is
 * read from memory once; each pair × four is eight vector sums, added across lanes at the end.
 */
export function gemmNT(pa: usize, pb: usize, pc: usize, M: i32, K: i32, N: i32, acc: bool): void {
  const K4 = K & ~3, row = <usize>K << 2, ldc = <usize>N << 2;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const b0 = pb + <usize>n * row, b1 = b0 + row, b2 = b1 + row, b3 = b2 + row;
    let i = 0;
    for (; i + 2 <= M; i += 2) {
      const a0 = pa + <usize>i * row, a1 = a0 + row;
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s02 = f32x4.splat(0), s03 = f32x4.splat(0);
      let s10 = f32x4.splat(0), s11 = f32x4.splat(0), s12 = f32x4.splat(0), s13 = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const o = <usize>k << 2;
        const x0 = v128.load(a0 + o), x1 = v128.load(a1 + o);
        const y0 = v128.load(b0 + o), y1 = v128.load(b1 + o), y2 = v128.load(b2 + o), y3 = v128.load(b3 + o);
        s00 = f32x4.add(s00, f32x4.mul(x0, y0));
        s01 = f32x4.add(s01, f32x4.mul(x0, y1));
        s02 = f32x4.add(s02, f32x4.mul(x0, y2));
        s03 = f32x4.add(s03, f32x4.mul(x0, y3));
        s10 = f32x4.add(s10, f32x4.mul(x1, y0));
        s11 = f32x4.add(s11, f32x4.mul(x1, y1));
        s12 = f32x4.add(s12, f32x4.mul(x1, y2));
        s13 = f32x4.add(s13, f32x4.mul(x1, y3));
      }
      let r0 = hsum4(s00, s01, s02, s03), r1 = hsum4(s10, s11, s12, s13);
      if (K4 < K) {
        r0 = f32x4.add(r0, f32x4(tail(a0, b0, K4, K), tail(a0, b1, K4, K), tail(a0, b2, K4, K), tail(a0, b3, K4, K)));
        r1 = f32x4.add(r1, f32x4(tail(a1, b0, K4, K), tail(a1, b1, K4, K), tail(a1, b2, K4, K), tail(a1, b3, K4, K)));
      }
      const c0 = pc + <usize>i * ldc + (<usize>n << 2), c1 = c0 + ldc;
      v128.store(c0, acc ? f32x4.add(v128.load(c0), r0) : r0);
      v128.store(c1, acc ? f32x4.add(v128.load(c1), r1) : r1);
    }
    for (; i < M; i++) {
      const a0 = pa + <usize>i * row;
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const o = <usize>k << 2, x = v128.load(a0 + o);
        s0 = f32x4.add(s0, f32x4.mul(x, v128.load(b0 + o)));
        s1 = f32x4.add(s1, f32x4.mul(x, v128.load(b1 + o)));
        s2 = f32x4.add(s2, f32x4.mul(x, v128.load(b2 + o)));
        s3 = f32x4.add(s3, f32x4.mul(x, v128.load(b3 + o)));
      }
      let r = hsum4(s0, s1, s2, s3);
      if (K4 < K) r = f32x4.add(r, f32x4(tail(a0, b0, K4, K), tail(a0, b1, K4, K), tail(a0, b2, K4, K), tail(a0, b3, K4, K)));
      const c = pc + <usize>i * ldc + (<usize>n << 2);
      v128.store(c, acc ? f32x4.add(v128.load(c), r) : r);
    }
  }
  // The last N % 4 rows of B, one at a time.
  for (; n < N; n++) {
    const b0 = pb + <usize>n * row;
    for (let i = 0; i < M; i++) {
      const a0 = pa + <usize>i * row;
      let s = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) s = f32x4.add(s, f32x4.mul(v128.load(a0 + (<usize>k << 2)), v128.load(b0 + (<usize>k << 2))));
      const v = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3) + tail(a0, b0, K4, K);
      const c = pc + <usize>i * ldc + (<usize>n << 2);
      store<f32>(c, acc ? load<f32>(c) + v : v);
    }
  }
}
