import { Tensor, type F32 } from '../../tensor/tensor.js';
import { expectDType, expectSameShape } from '../../tensor/check.js';
import { errors } from '../../errors.js';
import * as act from '../reference/activations.js';
import * as arith from '../reference/arith.js';
import * as bias from '../reference/bias.js';
import * as gated from '../reference/gated.js';
import * as opt from '../reference/optimizer.js';
import * as emb from '../reference/embedding.js';
import { checkIds } from '../reference/util.js';
import type { WasmModule } from './memory.js';
import { simd } from './simd-kernel.js';

/**
 * Elementwise kernels (simd/elementwise.ts): inputs copied in, four lanes at a time, the result
 * copied out. GELU's tanh and the sigmoid's exp are the four-lane polynomials of simd/math.ts.
 */
function unary(m: WasmModule, fn: string, x: F32, ...extra: number[]): F32 {
  const out = Tensor.empty(x.shape) as F32;
  if (x.size === 0) return out;
  m.begin();
  const px = m.input(x.data), po = m.space(x.size);
  m.fn[fn]!(px, po, x.size, ...extra);
  out.data.set(m.f32(po, x.size));
  return out;
}

function binary(m: WasmModule, op: string, fn: string, a: F32, b: F32): F32 {
  expectSameShape(op, a, b);
  const out = Tensor.empty(b.shape) as F32;
  if (a.size === 0) return out;
  m.begin();
  const pa = m.input(a.data), pb = m.input(b.data), po = m.space(a.size);
  m.fn[fn]!(pa, pb, po, a.size);
  out.data.set(m.f32(po, a.size));
  return out;
}

export const add = simd(arith.add, (m, a, b) => binary(m, 'add', 'add', a, b));
export const mul = simd(gated.mul, (m, a, b) => binary(m, 'mul', 'mul', a, b));
export const scale = simd(arith.scale, (m, x, s) => unary(m, 'scale', x, s));
export const relu = simd(act.relu, (m, x) => unary(m, 'relu', x));
export const reluBackward = simd(act.reluBackward, (m, x, dy) => binary(m, 'reluBackward', 'reluBackward', x, dy));
export const gelu = simd(act.gelu, (m, x) => unary(m, 'gelu', x));
export const geluBackward = simd(act.geluBackward, (m, x, dy) => binary(m, 'geluBackward', 'geluBackward', x, dy));
export const silu = simd(gated.silu, (m, x) => unary(m, 'silu', x));
export const siluBackward = simd(gated.siluBackward, (m, x, dy) => binary(m, 'siluBackward', 'siluBackward', x, dy));
export const sigmoid = simd(gated.sigmoid, (m, x) => unary(m, 'sigmoid', x));

export const biasAdd = simd(bias.biasAdd, (m, x, b) => {
  const C = x.cols, R = x.rows;
  if (b.size !== C) throw errors.shapeMismatch('biasAdd', 'bias length vs last dimension', x.shape, b.shape);
  const out = Tensor.empty(x.shape) as F32;
  if (x.size === 0) return out;
  m.begin();
  const px = m.input(x.data), pb = m.input(b.data), po = m.space(x.size);
  m.fn.biasAdd!(px, pb, po, R, C);
  out.data.set(m.f32(po, x.size));
  return out;
});

export const colSum = simd(bias.colSum, (m, dy) => {
  const C = dy.cols, R = dy.rows;
  const out = Tensor.empty([C]) as F32;
  m.begin();
  const px = m.input(dy.data), po = m.space(C);
  m.fn.colSum!(px, po, R, C);
  out.data.set(m.f32(po, C));
  return out;
});

export const sumSquares = simd(opt.sumSquares, (m, x) => {
  if (x.size === 0) return 0;
  m.begin();
  const px = m.input(x.data);
  return m.fn.sumSquares!(px, x.size);
});

/**
 * AdamW in place. Resident parameters and moments (memory.ts) are updated where they live; others
 * are copied in and back out.
 */
export const adamw = simd(opt.adamw, (m, param, grad, mo, v, h) => {
  expectSameShape('adamw', param, grad);
  expectSameShape('adamw', param, mo);
  expectSameShape('adamw', param, v);
  const n = param.size;
  if (n === 0) return;
  m.begin();
  const pp = m.input(param.data), pg = m.input(grad.data), pm = m.input(mo.data), pv = m.input(v.data);
  const ib1 = 1 / (1 - h.beta1 ** h.step), ib2 = 1 / (1 - h.beta2 ** h.step);
  m.fn.adamw!(pp, pg, pm, pv, n, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, ib1, ib2, h.gradScale);
  for (const [t, at] of [[param, pp], [mo, pm], [v, pv]] as const) if (!m.isResident(t.data)) t.data.set(m.f32(at, n));
});

/**
 * into += x in place: a resident gradient is summed where it lives, another is copied in and back
 * out (a vector loop either way, where a JavaScript loop over a typed array is several times slower).
 */
export const accumulate = simd(opt.accumulate, (m, into, x) => {
  expectSameShape('accumulate', into, x);
  const n = into.size;
  if (n === 0) return;
  m.begin();
  const pa = m.input(into.data), px = m.input(x.data);
  m.fn.accumulate!(pa, px, n);
  if (!m.isResident(into.data)) into.data.set(m.f32(pa, n));
});

/** The embedding's gradient: a scatter-add of dy's rows into a zeroed [vocab, C]. */
export const embeddingBackward = simd(emb.embeddingBackward, (m, ids, dy, vocab) => {
  expectDType('embeddingBackward', ids, 'i32');
  const C = dy.cols;
  if (dy.rows !== ids.size) throw errors.shapeMismatch('embeddingBackward', 'ids vs dy rows', ids.shape, dy.shape);
  checkIds('embeddingBackward', ids, vocab);
  const out = Tensor.empty([vocab, C]) as F32;
  if (out.size === 0) return out;
  m.begin();
  const pi = m.input(ids.data), pd = m.input(dy.data), po = m.space(out.size);
  m.fn.embeddingBackward!(pi, pd, po, ids.size, C, vocab);
  out.data.set(m.f32(po, out.size));
  return out;
});
