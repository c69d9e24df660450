import type { Backend } from '../kernels/backend.js';
import type { AttentionShape } from '../kernels/types.js';
import { errors } from '../errors.js';
import { Tensor, type F32, type I32 } from '../tensor/tensor.js';
import { currentTape, detached, type BackwardFn } from './tape.js';

/**
 * Differentiable ops: each runs its kernel and, while a tape records, the kernels of its backward
 * as a closure beside it (the backward kernels sit beside their forwards in src/kernels). Layers
 * and models are written with these and have no backward of their own.
 */

function record(inputs: readonly Tensor[], outputs: readonly Tensor[], backward: BackwardFn): void {
  currentTape()?.record(inputs, outputs, backward);
}

/** a[M,K]·b[K,N] */
export async function matmul(be: Backend, a: F32, b: F32): Promise<F32> {
  const y = await be.ops.matmul(a, b, 'nn');
  record([a, b], [y], async ([dy], [da, db], [, into]) => [
    da ? await be.ops.matmul(dy!, b, 'nt') : null,
    // A weight sunk into its gradient takes Xᵀ·dY added in place.
    db ? (into ? (await be.ops.matmulAccumulate(into, a, dy!, 'tn'), into) : await be.ops.matmul(a, dy!, 'tn')) : null,
  ]);
  return y;
}

/** x[R,C] + bias[C] */
export async function biasAdd(be: Backend, x: F32, bias: F32): Promise<F32> {
  const y = await be.ops.biasAdd(x, bias);
  record([x, bias], [y], async ([dy], [, db]) => [dy, db ? await be.ops.colSum(dy!) : null]);
  return y;
}

export async function add(be: Backend, a: F32, b: F32): Promise<F32> {
  const y = await be.ops.add(a, b);
  record([a, b], [y], async ([dy]) => [dy, dy]);
  return y;
}

export async function scale(be: Backend, x: F32, s: number): Promise<F32> {
  const y = await be.ops.scale(x, s);
  record([x], [y], async ([dy]) => [await be.ops.scale(dy!, s)]);
  return y;
}

export async function gelu(be: Backend, x: F32): Promise<F32> {
  const y = await be.ops.gelu(x);
  record([x], [y], async ([dy]) => [await be.ops.geluBackward(x, dy!)]);
  return y;
}

export async function relu(be: Backend, x: F32): Promise<F32> {
  const y = await be.ops.relu(x);
  record([x], [y], async ([dy]) => [await be.ops.reluBackward(x, dy!)]);
  return y;
}

/** Elementwise a ⊙ b. */
export async function mul(be: Backend, a: F32, b: F32): Promise<F32> {
  const y = await be.ops.mul(a, b);
  record([a, b], [y], async ([dy], [da, db]) => [da ? await be.ops.mul(dy!, b) : null, db ? await be.ops.mul(dy!, a) : null]);
  return y;
}

/** SiLU (swish), x·σ(x). */
export async function silu(be: Backend, x: F32): Promise<F32> {
  const y = await be.ops.silu(x);
  record([x], [y], async ([dy]) => [await be.ops.siluBackward(x, dy!)]);
  return y;
}

/** σ(x); its gradient is σ(1 − σ), computed from the output. */
export async function sigmoid(be: Backend, x: F32): Promise<F32> {
  const y = await be.ops.sigmoid(x);
  record([x], [y], async ([dy]) => {
    const dx = Tensor.zeros(x.shape, x.dtype) as F32;
    for (let i = 0; i < dx.size; i++) dx.data[i] = dy!.data[i]! * y.data[i]! * (1 - y.data[i]!);
    return [dx];
  });
  return y;
}

/** Softmax over the last dimension. */
export async function softmax(be: Backend, x: F32): Promise<F32> {
  const y = await be.ops.softmax(x);
  record([x], [y], async ([dy]) => [await be.ops.softmaxBackward(y, dy!)]);
  return y;
}

export async function layerNorm(be: Backend, x: F32, gamma: F32, beta: F32, eps: number): Promise<F32> {
  const { y, mean, rstd } = await be.ops.layerNorm(x, gamma, beta, eps);
  record([x, gamma, beta], [y], async ([dy]) => {
    const { dx, dgamma, dbeta } = await be.ops.layerNormBackward(x, gamma, mean, rstd, dy!);
    return [dx, dgamma, dbeta];
  });
  return y;
}

export async function rmsNorm(be: Backend, x: F32, gamma: F32, eps: number): Promise<F32> {
  const { y, rstd } = await be.ops.rmsNorm(x, gamma, eps);
  record([x, gamma], [y], async ([dy]) => {
    const { dx, dgamma } = await be.ops.rmsNormBackward(x, gamma, rstd, dy!);
    return [dx, dgamma];
  });
  return y;
}

/** Rows of table[V,C] at ids. */
export async function embedding(be: Backend, table: F32, ids: I32): Promise<F32> {
  const y = await be.ops.embedding(table, ids);
  record([table], [y], async ([dy]) => [await be.ops.embeddingBackward(ids, dy!, table.rows)]);
  return y;
}

/** Attention scores per head: scale·q·kᵀ, masked above the diagonal when causal. */
export async function attentionScores(be: Backend, q: F32, k: F32, shape: AttentionShape): Promise<F32> {
  const s = await be.ops.attentionScores(q, k, shape);
  record([q, k], [s], async ([dS], [dq, dk]) => [
    dq ? await be.ops.scale(await be.ops.attentionApply(dS!, k, shape), shape.scale) : null,
    dk ? await be.ops.scale(await be.ops.attentionApplyT(dS!, q, shape), shape.scale) : null,
  ]);
  return s;
}

/** Attention weights p applied to values v, per head. */
export async function attentionApply(be: Backend, p: F32, v: F32, shape: AttentionShape): Promise<F32> {
  const y = await be.ops.attentionApply(p, v, shape);
  record([p, v], [y], async ([dy], [dp, dv]) => [
    dp ? await be.ops.attentionScores(dy!, v, { ...shape, causal: false, scale: 1 }) : null,
    dv ? await be.ops.attentionApplyT(p, dy!, shape) : null,
  ]);
  return y;
}

/** The same values in another float dtype; the gradient goes back in the input's. */
export async function cast(x: F32, dtype: 'f32' | 'f64'): Promise<F32> {
  const y = Tensor.zeros(x.shape, dtype) as unknown as F32;
  y.data.set(x.data);
  record([x], [y], async ([dy]) => {
    const dx = Tensor.zeros(x.shape, x.dtype) as F32;
    dx.data.set(dy!.data);
    return [dx];
  });
  return y;
}

/** The same values in another shape (shares storage). */
export async function reshape(x: F32, shape: readonly number[]): Promise<F32> {
  const y = x.reshape(shape) as F32;
  record([x], [y], async ([dy]) => [dy!.reshape(x.shape) as F32]);
  return y;
}

/** Rows `rows` of x (a gather); backward scatters the gradient rows back into zeros. */
export async function pickRows(x: F32, rows: readonly number[]): Promise<F32> {
  const y = x.pickRows(rows) as F32;
  record([x], [y], async ([dy]) => {
    const dx = Tensor.zeros(x.shape, x.dtype) as F32, c = x.cols;
    rows.forEach((r, i) => {
      for (let j = 0; j < c; j++) dx.data[r * c + j]! += dy!.data[i * c + j]!;
    });
    return [dx];
  });
  return y;
}

/** x[groups·T, C] → [groups, C]: the mean of each group of T consecutive rows (pooling tokens). */
export async function meanPool(x: F32, T: number): Promise<F32> {
  const groups = x.rows / T, d = x.cols;
  const y = Tensor.zeros([groups, d], x.dtype) as F32;
  for (let i = 0; i < groups; i++) for (let t = 0; t < T; t++) for (let c = 0; c < d; c++) y.data[i * d + c]! += x.data[(i * T + t) * d + c]! / T;
  record([x], [y], async ([dy]) => {
    const dx = Tensor.zeros(x.shape, x.dtype) as F32;
    for (let i = 0; i < groups; i++) for (let t = 0; t < T; t++) for (let c = 0; c < d; c++) dx.data[(i * T + t) * d + c] = dy!.data[i * d + c]! / T;
    return [dx];
  });
  return y;
}

/**
 * Mean cross-entropy over the rows whose target is ≥ 0, as a [1] tensor, and the rows counted.
 * `scale` overrides the backward's 1/count (devices sharing a batch scale by the global count). A
 * NaN or infinite loss is an error naming `where`.
 */
export async function crossEntropy(be: Backend, logits: F32, targets: I32, opts: { scale?: number; where?: string } = {}): Promise<{ loss: F32; count: number }> {
  const { loss, probs } = await be.ops.crossEntropy(logits, targets);
  let sum = 0, count = 0;
  for (let i = 0; i < targets.size; i++) {
    if (targets.data[i]! < 0) continue;
    sum += loss.data[i]!;
    count++;
  }
  const value = count === 0 ? 0 : sum / count;
  if (!Number.isFinite(value)) throw errors.nonFinite(opts.where ?? 'loss', value);
  const mean = Tensor.zeros([1], logits.dtype) as F32;
  mean.data[0] = value;
  const scale = opts.scale ?? (count === 0 ? 0 : 1 / count);
  record([logits], [mean], async ([d]) => [await be.ops.crossEntropyBackward(probs, targets, d!.data[0]! * scale)]);
  return { loss: mean, count };
}

/**
 * A layer that is not written with these ops (it keeps a backward of its own) as one op of the
 * tape: its `backward(dy)` runs when the tape reaches it.
 */
export async function external(x: F32, layer: { forward(x: F32): Promise<F32>; backward(dy: F32): Promise<F32> }): Promise<F32> {
  // It drives its own sublayers' backward: they must not record on this tape.
  const y = await detached(() => layer.forward(x));
  const tape = currentTape();
  // Its parameters are not on the tape: record it even when x needs no gradient.
  tape?.watch(x);
  tape?.record([x], [y], async ([dy]) => [await layer.backward(dy!)]);
  return y;
}
