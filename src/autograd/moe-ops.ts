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
  const from = inputs.map((t) => t.data);
  const outputs = groups.map(({ src, row }) => {
    const out = Tensor.zeros([src.length, cols], dtype) as F32;
    gatherRows(out.data, from, src, row, cols);
    return out;
  });
  currentTape()?.record(inputs, outputs, async (dOut, needs) => {
    const dIn = inputs.map((t, s) => (needs[s] ? (Tensor.zeros(t.shape, t.dtype) as F32) : null));
    const into = dIn.map((d) => d?.data ?? null);
    groups.forEach(({ src, row }, g) => {
      const dy = dOut[g];
      if (dy) scatterAddRows(into, dy.data, src, row, cols);
    });
    return dIn;
  });
  return outputs;
}

function gatherRows(out: Floats, from: Floats[], src: Int32Array, row: Int32Array, cols: number): void {
  for (let i = 0; i < src.length; i++) {
    const s = src[i]!;
    if (s < 0) continue;
    const f = from[s]!, at = row[i]! * cols, to = i * cols;
    for (let c = 0; c < cols; c++) out[to + c] = f[at + c]!;
  }
}

function scatterAddRows(into: (Floats | null)[], dy: Floats, src: Int32Array, row: Int32Array, cols: number): void {
  for (let i = 0; i < src.length; i++) {
    const s = src[i]!;
    const d = s < 0 ? null : into[s];
    if (!d) continue;
    const at = row[i]! * cols, p = i * cols;
    for (let c = 0; c < cols; c++) d[at + c]! += dy[p + c]!;
  }
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
    return got.map((t) => {
      // This device's own part: a new tensor on the same storage (an op's output must never be its input).
      if (ts.includes(t)) return new Tensor(t.dtype, t.shape, t.data) as F32;
      // A peer's: into the pass's arena, so the channel's pool gets its storage back at once.
      const own = Tensor.empty(t.shape, t.dtype) as F32;
      own.data.set(t.data);
      collectives.release(t);
      return own;
    });
  };
  const received = await exchange(tensors);
  currentTape()?.record(tensors, received, async (dOut) => exchange(dOut as F32[]), { always: true });
  return received;
}

/**
 * Where each routing slot's expert output is: slot t·k + j's row is row `i[slot]` of output tensor
 * `g[slot]` (g −1: dropped, no term).
 */
export interface CombinePlan {
  g: Int32Array;
  i: Int32Array;
}

/**
 * y[t] = Σ_j w[t·k + j]·outs[g][i] over token t's kept slots, summed in ascending expert order
 * (`indices`), so any placement gives the same values. Backward: d(outs[g][i]) = w·dy[t] and
 * dw[slot] = dy[t]·outs[g][i].
 */
export async function combine(weights: F32, outs: readonly F32[], plan: CombinePlan, indices: I32, cols: number, dtype: F32['dtype']): Promise<F32> {
  const T = indices.rows, k = indices.cols;
  const order = slotOrder(indices.data, T, k);
  const y = Tensor.zeros([T, cols], dtype) as F32;
  const w = weights.data as unknown as Float64Array, od = outs.map((o) => o.data);
  combineRows(y.data, w, od, plan.g, plan.i, order, k, cols);
  currentTape()?.record([weights, ...outs], [y], async ([dy], needs) => {
    const dw = needs[0] ? (Tensor.zeros(weights.shape, weights.dtype) as F32) : null;
    const dOuts = outs.map((o, g) => (needs[g + 1] ? (Tensor.zeros(o.shape, o.dtype) as F32) : null));
    combineRowsBackward(dy!.data, w, od, plan.g, plan.i, dw?.data ?? null, dOuts.map((d) => d?.data ?? null), k, cols);
    return [dw, ...dOuts];
  });
  return y;
}

type Floats = Float32Array | Float64Array;

// The loops over plain typed arrays, apart from the tensors: they stay monomorphic, whatever
// objects the tensors are.
function combineRows(yd: Floats, w: Float64Array, od: Floats[], pg: Int32Array, pi: Int32Array, order: Int32Array, k: number, cols: number): void {
  for (let n = 0; n < order.length; n++) {
    const slot = order[n]!, g = pg[slot]!;
    if (g < 0) continue;
    const ws = w[slot]!, o = od[g]!, at = Math.floor(slot / k) * cols, from = pi[slot]! * cols;
    for (let c = 0; c < cols; c++) yd[at + c]! += ws * o[from + c]!;
  }
}

function combineRowsBackward(gd: Floats, w: Float64Array, od: Floats[], pg: Int32Array, pi: Int32Array, dw: Floats | null, dOuts: (Floats | null)[], k: number, cols: number): void {
  for (let slot = 0; slot < pg.length; slot++) {
    const g = pg[slot]!;
    if (g < 0) continue;
    const ws = w[slot]!, o = od[g]!, d = dOuts[g], at = Math.floor(slot / k) * cols, from = pi[slot]! * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) {
      const gy = gd[at + c]!;
      dot += gy * o[from + c]!;
      if (d) d[from + c] = ws * gy;
    }
    if (dw) dw[slot] = dot;
  }
}

/** Every slot t·k + j, token by token, each token's slots in ascending order of their expert. */
function slotOrder(e: Int32Array, T: number, k: number): Int32Array {
  const order = new Int32Array(T * k);
  for (let t = 0; t < T; t++) {
    const base = t * k;
    for (let j = 0; j < k; j++) {
      // Insertion sort of k ≤ a few slots by expert.
      let at = base + j;
      while (at > base && e[order[at - 1]!]! > e[base + j]!) {
        order[at] = order[at - 1]!;
        at--;
      }
      order[at] = base + j;
    }
  }
  return order;
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

