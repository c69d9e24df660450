// AssemblyScript: elementwise kernels over n floats, four lanes at a time. The caller pads every
// region to a whole number of vectors, so a last partial vector is computed and never read back.
import { exp4, sigmoid4, tanh4 } from './math';

const GELU_C0: f32 = 0.7978845608028654; // √(2/π)
const GELU_C1: f32 = 0.044715;

// @ts-ignore: decorator
@inline function geluInner4(v: v128): v128 {
  return tanh4(f32x4.mul(f32x4.splat(GELU_C0), f32x4.add(v, f32x4.mul(f32x4.splat(GELU_C1), f32x4.mul(v, f32x4.mul(v, v))))));
}

export function add(pa: usize, pb: usize, po: usize, n: i32): void {
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) v128.store(po + o, f32x4.add(v128.load(pa + o), v128.load(pb + o)));
}

/** a += b in place (a parameter's gradient). */
export function accumulate(pa: usize, pb: usize, n: i32): void {
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) v128.store(pa + o, f32x4.add(v128.load(pa + o), v128.load(pb + o)));
}

export function mul(pa: usize, pb: usize, po: usize, n: i32): void {
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) v128.store(po + o, f32x4.mul(v128.load(pa + o), v128.load(pb + o)));
}

export function scale(px: usize, po: usize, n: i32, s: f32): void {
  const k = f32x4.splat(s);
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) v128.store(po + o, f32x4.mul(v128.load(px + o), k));
}

/** max(x, 0); NaN passes through (wasm's max keeps NaN). */
export function relu(px: usize, po: usize, n: i32): void {
  const z = f32x4.splat(0);
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) v128.store(po + o, f32x4.max(v128.load(px + o), z));
}

/** dy where x > 0, NaN where x is NaN, else 0. */
export function reluBackward(px: usize, pd: usize, po: usize, n: i32): void {
  const z = f32x4.splat(0), nan = f32x4.splat(NaN);
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) {
    const x = v128.load(px + o);
    v128.store(po + o, v128.bitselect(v128.load(pd + o), v128.bitselect(nan, z, f32x4.ne(x, x)), f32x4.gt(x, z)));
  }
}

/** GELU, tanh form: 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))). */
export function gelu(px: usize, po: usize, n: i32): void {
  const half = f32x4.splat(0.5), one = f32x4.splat(1);
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) {
    const v = v128.load(px + o);
    v128.store(po + o, f32x4.mul(f32x4.mul(half, v), f32x4.add(one, geluInner4(v))));
  }
}

/** dy·(0.5·(1 + t) + 0.5·v·(1 − t²)·√(2/π)·(1 + 3·0.044715·v²)). */
export function geluBackward(px: usize, pd: usize, po: usize, n: i32): void {
  const half = f32x4.splat(0.5), one = f32x4.splat(1), c0 = f32x4.splat(GELU_C0), c3 = f32x4.splat(3 * GELU_C1);
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) {
    const v = v128.load(px + o), t = geluInner4(v);
    const d = f32x4.add(
      f32x4.mul(half, f32x4.add(one, t)),
      f32x4.mul(f32x4.mul(f32x4.mul(half, v), f32x4.sub(one, f32x4.mul(t, t))), f32x4.mul(c0, f32x4.add(one, f32x4.mul(c3, f32x4.mul(v, v))))),
    );
    v128.store(po + o, f32x4.mul(v128.load(pd + o), d));
  }
}

export function sigmoid(px: usize, po: usize, n: i32): void {
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) v128.store(po + o, sigmoid4(v128.load(px + o)));
}

/** x·σ(x). */
export function silu(px: usize, po: usize, n: i32): void {
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) {
    const x = v128.load(px + o);
    v128.store(po + o, f32x4.mul(x, sigmoid4(x)));
  }
}

/** dy·σ(x)·(1 + x·(1 − σ(x))). */
export function siluBackward(px: usize, pd: usize, po: usize, n: i32): void {
  const one = f32x4.splat(1);
  for (let o: usize = 0, end = <usize>n << 2; o < end; o += 16) {
    const x = v128.load(px + o), s = sigmoid4(x);
    v128.store(po + o, f32x4.mul(f32x4.mul(v128.load(pd + o), s), f32x4.add(one, f32x4.mul(x, f32x4.sub(one, s)))));
  }
}

/** x + bias on each of R rows of C floats. */
export function biasAdd(px: usize, pb: usize, po: usize, R: i32, C: i32): void {
  const C4 = C & ~3, row = <usize>C << 2;
  for (let r = 0; r < R; r++) {
    const x = px + <usize>r * row, out = po + <usize>r * row;
    let c = 0;
    for (; c < C4; c += 4) {
      const o = <usize>c << 2;
      v128.store(out + o, f32x4.add(v128.load(x + o), v128.load(pb + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(out + o, load<f32>(x + o) + load<f32>(pb + o));
    }
  }
}

/** Column sums of R rows of C floats into po (rows added in order). */
export function colSum(px: usize, po: usize, R: i32, C: i32): void {
  const C4 = C & ~3, row = <usize>C << 2;
  memory.fill(po, 0, <usize>C << 2);
  for (let r = 0; r < R; r++) {
    const x = px + <usize>r * row;
    let c = 0;
    for (; c < C4; c += 4) {
      const o = <usize>c << 2;
      v128.store(po + o, f32x4.add(v128.load(po + o), v128.load(x + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(po + o, load<f32>(po + o) + load<f32>(x + o));
    }
  }
}

/** Σ x², accumulated in float64 (two lanes of each vector at a time). */
export function sumSquares(px: usize, n: i32): f64 {
  let a = f64x2.splat(0), b = f64x2.splat(0);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const x = v128.load(px + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(x), hi = f64x2.promote_low_f32x4(i8x16.shuffle(x, x, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    a = f64x2.add(a, f64x2.mul(lo, lo));
    b = f64x2.add(b, f64x2.mul(hi, hi));
  }
  let s = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1) + f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1);
  for (; i < n; i++) {
    const v = <f64>load<f32>(px + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

/**
 * AdamW in place on n floats: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr·(m·ib1/(√(v·ib2) + ε) + wd·p),
 * with g = grad·gs and ib1, ib2 the inverse bias corrections.
 */
export function adamw(pp: usize, pg: usize, pm: usize, pv: usize, n: i32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, ib1: f32, ib2: f32, gs: f32): void {
  // Bias corrections folded: m·ib1 / (√(v·ib2) + eps) = m·(ib1/√ib2) / (√v + eps/√ib2), one multiply
  // less per lane; the divide and square root set the pace, so two vectors go per iteration.
  const rib2 = Mathf.sqrt(ib2);
  const B1 = f32x4.splat(b1), C1 = f32x4.splat(1 - b1), B2 = f32x4.splat(b2), C2 = f32x4.splat(1 - b2);
  const LR = f32x4.splat(lr), EPS = f32x4.splat(eps / rib2), WD = f32x4.splat(lr * wd), K = f32x4.splat((lr * ib1) / rib2), GS = f32x4.splat(gs);
  const end = <usize>n << 2, end2 = end & ~<usize>31;
  let o: usize = 0;
  for (; o < end2; o += 32) {
    const g0 = f32x4.mul(v128.load(pg + o), GS), g1 = f32x4.mul(v128.load(pg + o + 16), GS);
    const m0 = f32x4.add(f32x4.mul(B1, v128.load(pm + o)), f32x4.mul(C1, g0)), m1 = f32x4.add(f32x4.mul(B1, v128.load(pm + o + 16)), f32x4.mul(C1, g1));
    const v0 = f32x4.add(f32x4.mul(B2, v128.load(pv + o)), f32x4.mul(C2, f32x4.mul(g0, g0))), v1 = f32x4.add(f32x4.mul(B2, v128.load(pv + o + 16)), f32x4.mul(C2, f32x4.mul(g1, g1)));
    v128.store(pm + o, m0);
    v128.store(pm + o + 16, m1);
    v128.store(pv + o, v0);
    v128.store(pv + o + 16, v1);
    const d0 = f32x4.div(f32x4.mul(K, m0), f32x4.add(f32x4.sqrt(v0), EPS)), d1 = f32x4.div(f32x4.mul(K, m1), f32x4.add(f32x4.sqrt(v1), EPS));
    const p0 = v128.load(pp + o), p1 = v128.load(pp + o + 16);
    v128.store(pp + o, f32x4.sub(f32x4.sub(p0, f32x4.mul(WD, p0)), d0));
    v128.store(pp + o + 16, f32x4.sub(f32x4.sub(p1, f32x4.mul(WD, p1)), d1));
  }
  for (; o < end; o += 16) {
    const g = f32x4.mul(v128.load(pg + o), GS);
    const m = f32x4.add(f32x4.mul(B1, v128.load(pm + o)), f32x4.mul(C1, g));
    const v = f32x4.add(f32x4.mul(B2, v128.load(pv + o)), f32x4.mul(C2, f32x4.mul(g, g)));
    v128.store(pm + o, m);
    v128.store(pv + o, v);
    const p = v128.load(pp + o);
    v128.store(pp + o, f32x4.sub(f32x4.sub(p, f32x4.mul(WD, p)), f32x4.div(f32x4.mul(K, m), f32x4.add(f32x4.sqrt(v), EPS))));
  }
}

/** Scatter-add of T rows of dy[T, C] into a zeroed out[V, C] at ids (the embedding's gradient). */
export function embeddingBackward(pids: usize, pd: usize, po: usize, T: i32, C: i32, V: i32): void {
  const row = <usize>C << 2, C4 = C & ~3;
  memory.fill(po, 0, <usize>V * row);
  for (let t = 0; t < T; t++) {
    const out = po + <usize>load<i32>(pids + (<usize>t << 2)) * row, d = pd + <usize>t * row;
    let c = 0;
    for (; c < C4; c += 4) {
      const o = <usize>c << 2;
      v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(d + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(out + o, load<f32>(out + o) + load<f32>(d + o));
    }
  }
}
