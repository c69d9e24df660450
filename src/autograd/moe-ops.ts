import type { Backend } from '../kernels/backend.js';
import type { Collectives } from '../runtime/collectives.js';
import { Tensor, type F32, type I32 } from '../tensor/tensor.js';
import { currentTape } from './tape.js';

/**
 * The differentiable ops of routing and of moving token rows between experts and devices, each
 * forward beside its backward: combine weights from router probabilities, capacity masks, the
 * auxiliary losses, row regrouping (dispatch and gather), the all-to-all, and the combine step.
 */

/** Where each output row comes from: `src[i]` (an input index, or −1 for a zero row) and its row `row[i]`. */
export interface RowSource {
  src: Int32Array;
  row: Int32Array;
}

/**
 * Output g row i = inputs[groups[g].src[i]] row groups[g].row[i] (zeros where src is −1: padding).
 * Dispatch (tokens → destinations), assembly (received rows → each expert) and the way back are
 * all this one op; its backward scatter-adds every output's gradient rows into its sources.
 */
export async function regroupRows(inputs: readonly F32[], groups: readonly RowSource[], cols: number, dtype: F32['dtype']): Promise<F32[]> {
  const outputs = groups.map(({ src, row }) => {
    const out = Tensor.zeros([src.length, cols], dtype) as F32;
    for (let i = 0; i < src.length; i++) {
      const s = src[i]!;
      if (s < 0) continue;
      const r = row[i]!;
      out.data.set(inputs[s]!.data.subarray(r * cols, r * cols + cols), i * cols);
    }
    return out;
  });
  currentTape()?.record(inputs, outputs, async (dOut, needs) => {
    const dIn = inputs.map((t, s) => (needs[s] ? (Tensor.zeros(t.shape, t.dtype) as F32) : null));
    groups.forEach(({ src, row }, g) => {
      const dy = dOut[g];
      if (!dy) return;
      for (let i = 0; i < src.length; i++) {
        const d = dIn[src[i]!];
        if (!d) continue;
        const o = row[i]! * cols, p = i * cols;
        for (let c = 0; c < cols; c++) d.data[o + c]! += dy.data[p + c]!;
      }
    });
    return dIn;
  });
  return outputs;
}

/**
 * The runtime's all-to-all as an op: tensor d goes to device d, one comes back from each. Its
 * backward is the all-to-all of the gradients. Recorded always, so every device runs the same
 * collectives in the same order. Received tensors are copied off the channel pool at once (the
 * tape keeps them until backward; the pool's storage goes straight back).
 */
export async function allToAll(collectives: Collectives, tensors: readonly F32[], group?: readonly number[]): Promise<F32[]> {
  const exchange = async (ts: readonly F32[]) => {
    const got = (await collectives.allToAll([...ts], group ? [...group] : undefined)) as F32[];
    // Always a tensor of its own, even this device's part: an op's output must never be its input.
    return got.map((t) => {
      const own = t.clone() as F32;
      if (!ts.includes(t)) collectives.release(t);
      return own;
    });
  };
  const received = await exchange(tensors);
  currentTape()?.record(tensors, received, async (dOut) => exchange(dOut as F32[]), { always: true });
  return received;
}

/** One combine term: token slot `slot` (t·k + j) takes row `i` of output tensor `g`. */
export interface CombineTerm {
  slot: number;
  g: number;
  i: number;
}

/**
 * y[t] = Σ w[slot]·outs[g][i] over `terms`, in the order given (a fixed summation order makes any
 * placement give the same values). Backward: d(outs[g][i]) = w[slot]·dy[t], dw[slot] = dy[t]·outs[g][i].
 */
export async function combine(weights: F32, outs: readonly F32[], terms: readonly CombineTerm[], tokens: number, k: number, cols: number, dtype: F32['dtype']): Promise<F32> {
  const y = Tensor.zeros([tokens, cols], dtype) as F32;
  const w = weights.data;
  for (const { slot, g, i } of terms) {
    const t = Math.floor(slot / k), ws = w[slot]!, o = outs[g]!.data;
    for (let c = 0; c < cols; c++) y.data[t * cols + c]! += ws * o[i * cols + c]!;
  }
  currentTape()?.record([weights, ...outs], [y], async ([dy], needs) => {
    const dw = needs[0] ? (Tensor.zeros(weights.shape, weights.dtype) as F32) : null;
    const dOuts = outs.map((o, g) => (needs[g + 1] ? (Tensor.zeros(o.shape, o.dtype) as F32) : null));
    for (const { slot, g, i } of terms) {
      const t = Math.floor(slot / k), ws = w[slot]!, o = outs[g]!.data, d = dOuts[g];
      let dot = 0;
      for (let c = 0; c < cols; c++) {
        const gy = dy!.data[t * cols + c]!;
        dot += gy * o[i * cols + c]!;
        if (d) d.data[i * cols + c] = ws * gy;
      }
      if (dw) dw.data[slot] = dot;
    }
    return [dw, ...dOuts];
  });
  return y;
}

/**
 * Combine weights [T, k] in float64 from router scores [T, E] at the chosen `indices`: the scores
 * themselves, or with `normalise` each row's scores over its k choices (w_j = p_j / Σ_i p_i).
 * Backward: ∂/∂p_j = dw_j (plain) or (dw_j − Σ_i dw_i·w_i) / Σ_i p_i (normalised).
 */
export async function chosenWeights(scores: F32, indices: I32, normalise: boolean): Promise<F32> {
  const T = indices.rows, k = indices.cols, E = scores.cols;
  const w = Tensor.zeros([T, k], 'f64') as unknown as F32, sums = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += scores.data[t * E + indices.data[t * k + j]!]!;
    sums[t] = sum;
    for (let j = 0; j < k; j++) {
      const p = scores.data[t * E + indices.data[t * k + j]!]!;
      w.data[t * k + j] = normalise ? p / sum : p;
    }
  }
  currentTape()?.record([scores], [w], async ([dw]) => {
    const dp = Tensor.zeros(scores.shape, scores.dtype) as F32;
    for (let t = 0; t < T; t++) {
      let dot = 0;
      if (normalise) for (let j = 0; j < k; j++) dot += dw!.data[t * k + j]! * w.data[t * k + j]!;
      for (let j = 0; j < k; j++) {
        const e = indices.data[t * k + j]!, g = dw!.data[t * k + j]!;
        dp.data[t * E + e]! += normalise ? (g - dot) / sums[t]! : g;
      }
    }
    return [dp];
  });
  return w;
}

/** w ⊙ kept: assignments dropped for capacity weigh 0, and get no gradient. */
export async function keepSlots(w: F32, kept: Uint8Array): Promise<F32> {
  const y = Tensor.zeros(w.shape, w.dtype) as F32;
  for (let i = 0; i < w.size; i++) y.data[i] = kept[i] ? w.data[i]! : 0;
  currentTape()?.record([w], [y], async ([dy]) => {
    const dw = Tensor.zeros(w.shape, w.dtype) as F32;
    for (let i = 0; i < w.size; i++) dw.data[i] = kept[i] ? dy!.data[i]! : 0;
    return [dw];
  });
  return y;
}

/**
 * The load-balancing loss coef · E · Σ_e f_e · P_e as a [1] tensor, from global statistics: f_e =
 * counts[e] / (T·k) and P_e = probSums[e] / T over every device's T tokens. Its gradient with
 * respect to this device's probabilities is coef · E · f_e / T per token.
 */
export async function balanceLoss(probs: F32, counts: Float64Array, probSums: Float64Array, tokens: number, k: number, coef: number): Promise<F32> {
  const E = probs.cols, T = probs.rows;
  let v = 0;
  for (let e = 0; e < E; e++) v += (counts[e]! / (tokens * k)) * (probSums[e]! / tokens);
  const loss = Tensor.zeros([1], 'f64') as unknown as F32;
  loss.data[0] = coef * E * v;
  currentTape()?.record([probs], [loss], async ([d]) => {
    const dp = Tensor.zeros(probs.shape, probs.dtype) as F32;
    for (let e = 0; e < E; e++) {
      const g = (d!.data[0]! * coef * E * (counts[e]! / (tokens * k))) / tokens;
      for (let t = 0; t < T; t++) dp.data[t * E + e] = g;
    }
    return [dp];
  });
  return loss;
}

/**
 * ST-MoE's router z-loss coef · mean_t logsumexp(logits_t)² as a [1] tensor, the mean over every
 * device's `tokens` (`lseSquares`: their global sum). Gradient: coef · 2 · lse_t · softmax_t / tokens.
 */
export async function routerZLoss(logits: F32, probs: F32, lseSquares: number, tokens: number, coef: number): Promise<F32> {
  const E = logits.cols, T = logits.rows;
  const loss = Tensor.zeros([1], 'f64') as unknown as F32;
  loss.data[0] = (lseSquares / tokens) * coef;
  currentTape()?.record([logits], [loss], async ([d]) => {
    const dl = Tensor.zeros(logits.shape, logits.dtype) as F32;
    for (let t = 0; t < T; t++) {
      const g = (d!.data[0]! * coef * 2 * logSumExp(logits.data, t * E, E)) / tokens;
      for (let e = 0; e < E; e++) dl.data[t * E + e] = g * probs.data[t * E + e]!;
    }
    return [dl];
  });
  return loss;
}

export function logSumExp(a: ArrayLike<number>, off: number, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, a[off + i]!);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(a[off + i]! - m);
  return m + Math.log(s);
}

/** Runs `fn` (timing code, bookkeeping) when the backward pass reaches this point. */
export function onBackward(fn: () => void | Promise<void>): void {
  currentTape()?.hook(async () => void (await fn()));
}

export type { Backend };
