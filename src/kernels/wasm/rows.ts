import { Tensor, type F32 } from '../../tensor/tensor.js';
import { expectDType, expectSameShape } from '../../tensor/check.js';
import { errors } from '../../errors.js';
import { checkTargets } from '../shapes.js';
import * as sm from '../reference/softmax.js';
import * as ce from '../reference/crossentropy.js';
import * as ln from '../reference/layernorm.js';
import * as rms from '../reference/rmsnorm.js';
import { simd } from './simd-kernel.js';

/**
 * Row kernels (simd/rows.ts): softmax, cross-entropy and the two norms, four lanes along each row
 * with float32 sums, forward beside backward.
 */
export const softmax = simd(sm.softmax, (m, x) => {
  const out = Tensor.empty(x.shape) as F32;
  if (x.size === 0) return out;
  m.begin();
  const px = m.input(x.data), po = m.space(x.size);
  m.fn.softmax!(px, po, x.rows, x.cols);
  out.data.set(m.f32(po, x.size));
  return out;
});

export const softmaxBackward = simd(sm.softmaxBackward, (m, y, dy) => {
  expectSameShape('softmaxBackward', y, dy);
  const out = Tensor.empty(dy.shape) as F32;
  if (y.size === 0) return out;
  m.begin();
  const py = m.input(y.data), pd = m.input(dy.data), po = m.space(y.size);
  m.fn.softmaxBackward!(py, pd, po, y.rows, y.cols);
  out.data.set(m.f32(po, y.size));
  return out;
});

export const crossEntropy = simd(ce.crossEntropy, (m, logits, targets) => {
  expectDType('crossEntropy', targets, 'i32');
  const C = logits.cols, R = logits.rows;
  checkTargets('crossEntropy', R, C, targets, logits.shape);
  const probs = Tensor.empty(logits.shape) as F32, loss = Tensor.empty([R]) as F32;
  if (logits.size === 0) return { loss: Tensor.zeros([R]) as F32, probs };
  m.begin();
  const px = m.input(logits.data), pt = m.input(targets.data), pp = m.space(logits.size), pl = m.space(R);
  m.fn.crossEntropy!(px, pt, pp, pl, R, C);
  probs.data.set(m.f32(pp, logits.size));
  loss.data.set(m.f32(pl, R));
  return { loss, probs };
});

export const crossEntropyBackward = simd(ce.crossEntropyBackward, (m, probs, targets, scale) => {
  expectDType('crossEntropyBackward', targets, 'i32');
  const C = probs.cols, R = probs.rows;
  checkTargets('crossEntropyBackward', R, C, targets, probs.shape);
  const out = Tensor.empty(probs.shape) as F32;
  if (probs.size === 0) return out;
  m.begin();
  const pp = m.input(probs.data), pt = m.input(targets.data), po = m.space(probs.size);
  m.fn.crossEntropyBackward!(pp, pt, po, R, C, scale);
  out.data.set(m.f32(po, probs.size));
  return out;
});

export const layerNorm = simd(ln.layerNorm, (m, x, gamma, beta, eps) => {
  const C = x.cols, R = x.rows;
  if (gamma.size !== C || beta.size !== C) throw errors.shapeMismatch('layerNorm', 'gamma/beta vs last dimension', x.shape, gamma.shape);
  const y = Tensor.empty(x.shape) as F32, mean = Tensor.empty([R]) as F32, rstd = Tensor.empty([R]) as F32;
  if (x.size === 0) return { y, mean: Tensor.zeros([R]) as F32, rstd: Tensor.zeros([R]) as F32 };
  m.begin();
  const px = m.input(x.data), pg = m.input(gamma.data), pb = m.input(beta.data), py = m.space(x.size), pm = m.space(R), pr = m.space(R);
  m.fn.layerNorm!(px, pg, pb, py, pm, pr, R, C, eps);
  y.data.set(m.f32(py, x.size));
  mean.data.set(m.f32(pm, R));
  rstd.data.set(m.f32(pr, R));
  return { y, mean, rstd };
});

export const layerNormBackward = simd(ln.layerNormBackward, (m, x, gamma, mean, rstd, dy) => {
  expectSameShape('layerNormBackward', x, dy);
  const C = x.cols, R = x.rows;
  const dx = Tensor.empty(x.shape) as F32, dgamma = Tensor.empty([C]) as F32, dbeta = Tensor.empty([C]) as F32;
  m.begin();
  const px = m.input(x.data), pg = m.input(gamma.data), pm = m.input(mean.data), pr = m.input(rstd.data), pd = m.input(dy.data), pdx = m.space(x.size), pdg = m.space(C), pdb = m.space(C);
  m.fn.layerNormBackward!(px, pg, pm, pr, pd, pdx, pdg, pdb, R, C);
  dx.data.set(m.f32(pdx, x.size));
  dgamma.data.set(m.f32(pdg, C));
  dbeta.data.set(m.f32(pdb, C));
  return { dx, dgamma, dbeta };
});

export const rmsNorm = simd(rms.rmsNorm, (m, x, gamma, eps) => {
  const C = x.cols, R = x.rows;
  if (gamma.size !== C) throw errors.shapeMismatch('rmsNorm', 'gamma vs last dimension', x.shape, gamma.shape);
  const y = Tensor.empty(x.shape) as F32, rstd = Tensor.empty([R]) as F32;
  if (x.size === 0) return { y, rstd: Tensor.zeros([R]) as F32 };
  m.begin();
  const px = m.input(x.data), pg = m.input(gamma.data), py = m.space(x.size), pr = m.space(R);
  m.fn.rmsNorm!(px, pg, py, pr, R, C, eps);
  y.data.set(m.f32(py, x.size));
  rstd.data.set(m.f32(pr, R));
  return { y, rstd };
});

export const rmsNormBackward = simd(rms.rmsNormBackward, (m, x, gamma, rstd, dy) => {
  expectSameShape('rmsNormBackward', x, dy);
  const C = x.cols, R = x.rows;
  const dx = Tensor.empty(x.shape) as F32, dgamma = Tensor.empty([C]) as F32;
  m.begin();
  const px = m.input(x.data), pg = m.input(gamma.data), pr = m.input(rstd.data), pd = m.input(dy.data), pdx = m.space(x.size), pdg = m.space(C);
  m.fn.rmsNormBackward!(px, pg, pr, pd, pdx, pdg, R, C);
  dx.data.set(m.f32(pdx, x.size));
  dgamma.data.set(m.f32(pdg, C));
  return { dx, dgamma };
});
