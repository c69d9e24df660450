// AssemblyScript: the register tiles every product in this folder is built from (no FMA in
// WebAssembly SIMD: multiply, then add). A is read as scalars broadcast to four lanes, with row
// stride `lda` and step `astep` along the summed dimension (both in bytes), so a transposed A is
// read in place; B as 8-column rows, `ldb` bytes apart; C rows `ldc` bytes apart.

/** The tile's starting value at c: C's own (the product is added to it) or zero. */
// @ts-ignore: decorator
@inline function start(acc: bool, c: usize, offset: usize): v128 {
  return acc ? v128.load(c + offset) : f32x4.splat(0);
}

/**
 * C[4×8] = A[4×kc]·B[kc×8] (with `acc`, C += it): 8 accumulators, per k 2 vector loads of B, 4
 * broadcasts of A, 64 flops.
 */
// @ts-ignore: decorator
@inline export function tile4x8(a: usize, lda: usize, astep: usize, b: usize, ldb: usize, kc: i32, c: usize, ldc: usize, acc: bool = false): void {
  let c00 = start(acc, c, 0), c01 = start(acc, c, 16), c10 = start(acc, c + ldc, 0), c11 = start(acc, c + ldc, 16);
  let c20 = start(acc, c + 2 * ldc, 0), c21 = start(acc, c + 2 * ldc, 16), c30 = start(acc, c + 3 * ldc, 0), c31 = start(acc, c + 3 * ldc, 16);
  let a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let x = v128.load32_splat(a0);
    c00 = f32x4.add(c00, f32x4.mul(x, b0));
    c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load32_splat(a1);
    c10 = f32x4.add(c10, f32x4.mul(x, b0));
    c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load32_splat(a2);
    c20 = f32x4.add(c20, f32x4.mul(x, b0));
    c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load32_splat(a3);
    c30 = f32x4.add(c30, f32x4.mul(x, b0));
    c31 = f32x4.add(c31, f32x4.mul(x, b1));
    a0 += astep;
    a1 += astep;
    a2 += astep;
    a3 += astep;
    b += ldb;
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  c += ldc;
  v128.store(c, c10);
  v128.store(c, c11, 16);
  c += ldc;
  v128.store(c, c20);
  v128.store(c, c21, 16);
  c += ldc;
  v128.store(c, c30);
  v128.store(c, c31, 16);
}

/** C[1×8] = A[1×kc]·B[kc×8] (with `acc`, C += it), for the rows a 4-row tile leaves over (and single-token calls). */
// @ts-ignore: decorator
@inline export function tile1x8(a: usize, astep: usize, b: usize, ldb: usize, kc: i32, c: usize, acc: bool = false): void {
  let c0 = start(acc, c, 0), c1 = start(acc, c, 16);
  for (let k = 0; k < kc; k++) {
    const x = v128.load32_splat(a);
    c0 = f32x4.add(c0, f32x4.mul(x, v128.load(b)));
    c1 = f32x4.add(c1, f32x4.mul(x, v128.load(b, 16)));
    a += astep;
    b += ldb;
  }
  v128.store(c, c0);
  v128.store(c, c1, 16);
}

/**
 * C[1×32] = A[1×kc]·B[kc×32] (with `acc`, C += it) over four 8-column panels `panel` bytes apart:
 * eight independent accumulators, so a single row runs at the adds' throughput rather than their latency.
 */
// @ts-ignore: decorator
@inline export function tile1x32(a: usize, astep: usize, b: usize, panel: usize, ldb: usize, kc: i32, c: usize, acc: bool = false): void {
  let c0 = start(acc, c, 0), c1 = start(acc, c, 16), c2 = start(acc, c, 32), c3 = start(acc, c, 48);
  let c4 = start(acc, c, 64), c5 = start(acc, c, 80), c6 = start(acc, c, 96), c7 = start(acc, c, 112);
  const b1 = b + panel, b2 = b1 + panel, b3 = b2 + panel;
  let o: usize = 0;
  for (let k = 0; k < kc; k++) {
    const x = v128.load32_splat(a);
    c0 = f32x4.add(c0, f32x4.mul(x, v128.load(b + o)));
    c1 = f32x4.add(c1, f32x4.mul(x, v128.load(b + o, 16)));
    c2 = f32x4.add(c2, f32x4.mul(x, v128.load(b1 + o)));
    c3 = f32x4.add(c3, f32x4.mul(x, v128.load(b1 + o, 16)));
    c4 = f32x4.add(c4, f32x4.mul(x, v128.load(b2 + o)));
    c5 = f32x4.add(c5, f32x4.mul(x, v128.load(b2 + o, 16)));
    c6 = f32x4.add(c6, f32x4.mul(x, v128.load(b3 + o)));
    c7 = f32x4.add(c7, f32x4.mul(x, v128.load(b3 + o, 16)));
    a += astep;
    o += ldb;
  }
  v128.store(c, c0);
  v128.store(c, c1, 16);
  v128.store(c, c2, 32);
  v128.store(c, c3, 48);
  v128.store(c, c4, 64);
  v128.store(c, c5, 80);
  v128.store(c, c6, 96);
  v128.store(c, c7, 112);
}

/** C[r, 0..8) += a·B[k, 0..8): one more term of a sum, for the triangles a causal mask leaves. */
// @ts-ignore: decorator
@inline export function axpy8(a: usize, b: usize, c: usize): void {
  const x = v128.load32_splat(a);
  v128.store(c, f32x4.add(v128.load(c), f32x4.mul(x, v128.load(b))));
  v128.store(c, f32x4.add(v128.load(c, 16), f32x4.mul(x, v128.load(b, 16))), 16);
}
