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
  const [px, po] = m.frame(x.size, x.size);
  m.put(px!, x.data);
  m.fn[fn]!(px!, po!, x.size, ...extra);
  out.data.set(m.f32(po!, x.size));
  return out;
}

function binary(m: WasmModule, op: string, fn: string, a: F32, b: F32): F32 {
  expectSameShape(op, a, b);
  const out = Tensor.empty(b.shape) as F32;
  if (a.size === 0) return out;
  const [pa, pb, po] = m.frame(a.size, a.size, a.size);
  m.put(pa!, a.data);
  m.put(pb!, b.data);
  m.fn[fn]!(pa!, pb!, po!, a.size);
  out.data.set(m.f32(po!, a.size));
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
  const [px, pb, po] = m.frame(x.size, C, x.size);
  m.put(px!, x.data);
  m.put(pb!, b.data);
  m.fn.biasAdd!(px!, pb!, po!, R, C);
  out.data.set(m.f32(po!, x.size));
  return out;
});

export const colSum = simd(bias.colSum, (m, dy) => {
  const C = dy.cols, R = dy.rows;
  const out = Tensor.empty([C]) as F32;
  const [px, po] = m.frame(dy.size, C);
  m.put(px!, dy.data);
  m.fn.colSum!(px!, po!, R, C);
  out.data.set(m.f32(po!, C));
  return out;
});

export const sumSquares = simd(opt.sumSquares, (m, x) => {
  if (x.size === 0) return 0;
  const [px] = m.frame(x.size);
  m.put(px!, x.data);
  return m.fn.sumSquares!(px!, x.size);
});

/** AdamW in place: parameter, gradient and both moments in, parameter and moments back out. */
export const adamw = simd(opt.adamw, (m, param, grad, mo, v, h) => {
  expectSameShape('adamw', param, grad);
  expectSameShape('adamw', param, mo);
  expectSameShape('adamw', param, v);
  const n = param.size;
  if (n === 0) return;
  const [pp, pg, pm, pv] = m.frame(n, n, n, n);
  m.put(pp!, param.data);
  m.put(pg!, grad.data);
  m.put(pm!, mo.data);
  m.put(pv!, v.data);
  const ib1 = 1 / (1 - h.beta1 ** h.step), ib2 = 1 / (1 - h.beta2 ** h.step);
  m.fn.adamw!(pp!, pg!, pm!, pv!, n, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, ib1, ib2, h.gradScale);
  param.data.set(m.f32(pp!, n));
  mo.data.set(m.f32(pm!, n));
  v.data.set(m.f32(pv!, n));
});

/** The embedding's gradient: a scatter-add of dy's rows into a zeroed [vocab, C]. */
export const embeddingBackward = simd(emb.embeddingBackward, (m, ids, dy, vocab) => {
  expectDType('embeddingBackward', ids, 'i32');
  const C = dy.cols;
  if (dy.rows !== ids.size) throw errors.shapeMismatch('embeddingBackward', 'ids vs dy rows', ids.shape, dy.shape);
  checkIds('embeddingBackward', ids, vocab);
  const out = Tensor.empty([vocab, C]) as F32;
  if (out.size === 0) return out;
  const [pi, pd, po] = m.frame(ids.size, dy.size, out.size);
  m.put(pi!, ids.data);
  m.put(pd!, dy.data);
  m.fn.embeddingBackward!(pi!, pd!, po!, ids.size, C, vocab);
  out.data.set(m.f32(po!, out.size));
  return out;
});
