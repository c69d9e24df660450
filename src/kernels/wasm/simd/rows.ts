// AssemblyScript: kernels over the rows of an [R, C] matrix (softmax, cross-entropy, the norms),
// four lanes at a time with a scalar tail when C is no multiple of 4.
import { exp1, exp4, hmax, hsum } from './math';

// @ts-ignore: decorator
@inline function at(base: usize, c: i32): usize {
  return base + (<usize>c << 2);
}

/** Row max, Σ e^(x−max) written to out, and the sum; returns the max and sets `lastSum`. */
let lastSum: f32 = 0;
function expRow(x: usize, out: usize, C: i32): f32 {
  const C4 = C & ~3;
  let mv = f32x4.splat(-Infinity);
  let c = 0;
  for (; c < C4; c += 4) mv = f32x4.max(mv, v128.load(at(x, c)));
  let m = hmax(mv);
  for (; c < C; c++) m = max(m, load<f32>(at(x, c)));
  const M = f32x4.splat(m);
  let sv = f32x4.splat(0);
  for (c = 0; c < C4; c += 4) {
    const e = exp4(f32x4.sub(v128.load(at(x, c)), M));
    v128.store(at(out, c), e);
    sv = f32x4.add(sv, e);
  }
  let s = hsum(sv);
  for (; c < C; c++) {
    const e = exp1(load<f32>(at(x, c)) - m);
    store<f32>(at(out, c), e);
    s += e;
  }
  lastSum = s;
  return m;
}

function scaleRow(out: usize, C: i32, k: f32): void {
  const C4 = C & ~3, K = f32x4.splat(k);
  let c = 0;
  for (; c < C4; c += 4) v128.store(at(out, c), f32x4.mul(v128.load(at(out, c)), K));
  for (; c < C; c++) store<f32>(at(out, c), load<f32>(at(out, c)) * k);
}

/** Row softmax, max-subtracted. */
export function softmax(px: usize, po: usize, R: i32, C: i32): void {
  const row = <usize>C << 2;
  for (let r = 0; r < R; r++) {
    const x = px + <usize>r * row, out = po + <usize>r * row;
    expRow(x, out, C);
    scaleRow(out, C, 1 / lastSum);
  }
}

/** dx = y ⊙ (dy − Σ y·dy) per row. */
export function softmaxBackward(py: usize, pd: usize, po: usize, R: i32, C: i32): void {
  const row = <usize>C << 2, C4 = C & ~3;
  for (let r = 0; r < R; r++) {
    const y = py + <usize>r * row, d = pd + <usize>r * row, out = po + <usize>r * row;
    let dv = f32x4.splat(0);
    let c = 0;
    for (; c < C4; c += 4) dv = f32x4.add(dv, f32x4.mul(v128.load(at(y, c)), v128.load(at(d, c))));
    let dot = hsum(dv);
    for (; c < C; c++) dot += load<f32>(at(y, c)) * load<f32>(at(d, c));
    const D = f32x4.splat(dot);
    for (c = 0; c < C4; c += 4) v128.store(at(out, c), f32x4.mul(v128.load(at(y, c)), f32x4.sub(v128.load(at(d, c)), D)));
    for (; c < C; c++) store<f32>(at(out, c), load<f32>(at(y, c)) * (load<f32>(at(d, c)) - dot));
  }
}

/** Per-row loss −log softmax(x)[t] (0 where t < 0) and the softmax itself. */
export function crossEntropy(px: usize, pt: usize, pprobs: usize, ploss: usize, R: i32, C: i32): void {
  const row = <usize>C << 2;
  for (let r = 0; r < R; r++) {
    const x = px + <usize>r * row, probs = pprobs + <usize>r * row;
    const m = expRow(x, probs, C), s = lastSum;
    scaleRow(probs, C, 1 / s);
    const t = load<i32>(at(pt, r));
    store<f32>(at(ploss, r), t < 0 ? 0 : m + Mathf.log(s) - load<f32>(at(x, t)));
  }
}

/** (probs − onehot(t))·scale per row; rows with t < 0 get 0. */
export function crossEntropyBackward(pp: usize, pt: usize, po: usize, R: i32, C: i32, k: f32): void {
  const row = <usize>C << 2, C4 = C & ~3, K = f32x4.splat(k);
  for (let r = 0; r < R; r++) {
    const p = pp + <usize>r * row, out = po + <usize>r * row, t = load<i32>(at(pt, r));
    if (t < 0) {
      memory.fill(out, 0, row);
      continue;
    }
    let c = 0;
    for (; c < C4; c += 4) v128.store(at(out, c), f32x4.mul(v128.load(at(p, c)), K));
    for (; c < C; c++) store<f32>(at(out, c), load<f32>(at(p, c)) * k);
    store<f32>(at(out, t), (load<f32>(at(p, t)) - 1) * k);
  }
}

/** y = (x − mean)·rstd·γ + β per row; writes mean and rstd per row. */
export function layerNorm(px: usize, pg: usize, pb: usize, py: usize, pmean: usize, prstd: usize, R: i32, C: i32, eps: f32): void {
  const row = <usize>C << 2, C4 = C & ~3;
  for (let r = 0; r < R; r++) {
    const x = px + <usize>r * row, y = py + <usize>r * row;
    let sv = f32x4.splat(0);
    let c = 0;
    for (; c < C4; c += 4) sv = f32x4.add(sv, v128.load(at(x, c)));
    let s = hsum(sv);
    for (; c < C; c++) s += load<f32>(at(x, c));
    const mu = s / <f32>C, MU = f32x4.splat(mu);
    let vv = f32x4.splat(0);
    for (c = 0; c < C4; c += 4) {
      const d = f32x4.sub(v128.load(at(x, c)), MU);
      vv = f32x4.add(vv, f32x4.mul(d, d));
    }
    let v = hsum(vv);
    for (; c < C; c++) {
      const d = load<f32>(at(x, c)) - mu;
      v += d * d;
    }
    const rs: f32 = 1 / Mathf.sqrt(v / <f32>C + eps), RS = f32x4.splat(rs);
    store<f32>(at(pmean, r), mu);
    store<f32>(at(prstd, r), rs);
    for (c = 0; c < C4; c += 4) {
      v128.store(at(y, c), f32x4.add(f32x4.mul(f32x4.mul(f32x4.sub(v128.load(at(x, c)), MU), RS), v128.load(at(pg, c))), v128.load(at(pb, c))));
    }
    for (; c < C; c++) store<f32>(at(y, c), (load<f32>(at(x, c)) - mu) * rs * load<f32>(at(pg, c)) + load<f32>(at(pb, c)));
  }
}

/** dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ; dγ = Σ dy·x̂; dβ = Σ dy. */
export function layerNormBackward(px: usize, pg: usize, pmean: usize, prstd: usize, pd: usize, pdx: usize, pdg: usize, pdb: usize, R: i32, C: i32): void {
  const row = <usize>C << 2, C4 = C & ~3, invC: f32 = 1 / <f32>C;
  memory.fill(pdg, 0, row);
  memory.fill(pdb, 0, row);
  for (let r = 0; r < R; r++) {
    const x = px + <usize>r * row, d = pd + <usize>r * row, dx = pdx + <usize>r * row;
    const mu = load<f32>(at(pmean, r)), rs = load<f32>(at(prstd, r)), MU = f32x4.splat(mu), RS = f32x4.splat(rs);
    let sgv = f32x4.splat(0), sgxv = f32x4.splat(0);
    let c = 0;
    for (; c < C4; c += 4) {
      const dy = v128.load(at(d, c)), xh = f32x4.mul(f32x4.sub(v128.load(at(x, c)), MU), RS), g = f32x4.mul(dy, v128.load(at(pg, c)));
      sgv = f32x4.add(sgv, g);
      sgxv = f32x4.add(sgxv, f32x4.mul(g, xh));
      v128.store(at(pdg, c), f32x4.add(v128.load(at(pdg, c)), f32x4.mul(dy, xh)));
      v128.store(at(pdb, c), f32x4.add(v128.load(at(pdb, c)), dy));
    }
    let sg = hsum(sgv), sgx = hsum(sgxv);
    for (; c < C; c++) {
      const dy = load<f32>(at(d, c)), xh = (load<f32>(at(x, c)) - mu) * rs, g = dy * load<f32>(at(pg, c));
      sg += g;
      sgx += g * xh;
      store<f32>(at(pdg, c), load<f32>(at(pdg, c)) + dy * xh);
      store<f32>(at(pdb, c), load<f32>(at(pdb, c)) + dy);
    }
    const A = f32x4.splat(sg * invC), B = f32x4.splat(sgx * invC);
    for (c = 0; c < C4; c += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(at(x, c)), MU), RS), g = f32x4.mul(v128.load(at(d, c)), v128.load(at(pg, c)));
      v128.store(at(dx, c), f32x4.mul(RS, f32x4.sub(f32x4.sub(g, A), f32x4.mul(xh, B))));
    }
    for (; c < C; c++) {
      const xh = (load<f32>(at(x, c)) - mu) * rs, g = load<f32>(at(d, c)) * load<f32>(at(pg, c));
      store<f32>(at(dx, c), rs * (g - sg * invC - xh * sgx * invC));
    }
  }
}

/** y = x·rstd·γ with rstd = 1/√(mean(x²) + eps) per row. */
export function rmsNorm(px: usize, pg: usize, py: usize, prstd: usize, R: i32, C: i32, eps: f32): void {
  const row = <usize>C << 2, C4 = C & ~3;
  for (let r = 0; r < R; r++) {
    const x = px + <usize>r * row, y = py + <usize>r * row;
    let sv = f32x4.splat(0);
    let c = 0;
    for (; c < C4; c += 4) {
      const v = v128.load(at(x, c));
      sv = f32x4.add(sv, f32x4.mul(v, v));
    }
    let s = hsum(sv);
    for (; c < C; c++) {
      const v = load<f32>(at(x, c));
      s += v * v;
    }
    const rs: f32 = 1 / Mathf.sqrt(s / <f32>C + eps), RS = f32x4.splat(rs);
    store<f32>(at(prstd, r), rs);
    for (c = 0; c < C4; c += 4) v128.store(at(y, c), f32x4.mul(f32x4.mul(v128.load(at(x, c)), RS), v128.load(at(pg, c))));
    for (; c < C; c++) store<f32>(at(y, c), load<f32>(at(x, c)) * rs * load<f32>(at(pg, c)));
  }
}

/** dx = rstd·(g − x̂·mean(g·x̂)) with g = dy·γ, x̂ = x·rstd; dγ = Σ dy·x̂. */
export function rmsNormBackward(px: usize, pg: usize, prstd: usize, pd: usize, pdx: usize, pdg: usize, R: i32, C: i32): void {
  const row = <usize>C << 2, C4 = C & ~3, invC: f32 = 1 / <f32>C;
  memory.fill(pdg, 0, row);
  for (let r = 0; r < R; r++) {
    const x = px + <usize>r * row, d = pd + <usize>r * row, dx = pdx + <usize>r * row;
    const rs = load<f32>(at(prstd, r)), RS = f32x4.splat(rs);
    let sv = f32x4.splat(0);
    let c = 0;
    for (; c < C4; c += 4) {
      const dy = v128.load(at(d, c)), xh = f32x4.mul(v128.load(at(x, c)), RS);
      sv = f32x4.add(sv, f32x4.mul(f32x4.mul(dy, v128.load(at(pg, c))), xh));
      v128.store(at(pdg, c), f32x4.add(v128.load(at(pdg, c)), f32x4.mul(dy, xh)));
    }
    let sgx = hsum(sv);
    for (; c < C; c++) {
      const dy = load<f32>(at(d, c)), xh = load<f32>(at(x, c)) * rs;
      sgx += dy * load<f32>(at(pg, c)) * xh;
      store<f32>(at(pdg, c), load<f32>(at(pdg, c)) + dy * xh);
    }
    const B = f32x4.splat(sgx * invC);
    for (c = 0; c < C4; c += 4) {
      const xh = f32x4.mul(v128.load(at(x, c)), RS);
      v128.store(at(dx, c), f32x4.mul(RS, f32x4.sub(f32x4.mul(v128.load(at(d, c)), v128.load(at(pg, c))), f32x4.mul(xh, B))));
    }
    for (; c < C; c++) {
      const xh = load<f32>(at(x, c)) * rs;
      store<f32>(at(dx, c), rs * (load<f32>(at(d, c)) * load<f32>(at(pg, c)) - xh * sgx * invC));
    }
  }
}
