import type { F32, I32 } from '../tensor/tensor.js';

/** The three matmul forms an expert FFN needs: X·W (nn), dY·Wᵀ (nt), Xᵀ·dY (tn). */
export type MatmulForm = 'nn' | 'nt' | 'tn';

/** Batched attention over tokens laid out [batch*seq, heads*headDim]. */
export interface AttentionShape {
  batch: number;
  seq: number;
  heads: number;
  /** Mask keys after the query position (decoder self-attention). */
  causal: boolean;
  /** Multiplies the scores, usually 1/sqrt(headDim). */
  scale: number;
}

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
  /** Multiplies the gradient first (gradient clipping folds in here). */
  gradScale: number;
}

/**
 * Every kernel a backend provides, forward and backward side by side. Shapes are row-major;
 * "rows" means every leading dimension flattened. Kernels never mutate inputs, except `adamw`,
 * which updates its parameter and moment tensors in place (they are optimizer state), and
 * `accumulate` and `matmulAccumulate`, which add into a parameter's gradient in place.
 */
export interface KernelSignatures {
  /** nn: a[M,K]·b[K,N] · nt: a[M,K]·b[N,K]ᵀ · tn: a[K,M]ᵀ·b[K,N] → [M,N] */
  matmul(a: F32, b: F32, form: MatmulForm): F32;
  /** into += the matmul of a and b in `form`, in place (a weight gradient summed straight into the parameter's). */
  matmulAccumulate(into: F32, a: F32, b: F32, form: MatmulForm): void;
  /** x[..,C] + bias[C] */
  biasAdd(x: F32, bias: F32): F32;
  /** Column sums of dy[R,C] → [C] (the bias gradient). */
  colSum(dy: F32): F32;
  add(a: F32, b: F32): F32;
  scale(x: F32, s: number): F32;
  relu(x: F32): F32;
  reluBackward(x: F32, dy: F32): F32;
  /** GELU, tanh approximation (as in GPT-2). */
  gelu(x: F32): F32;
  geluBackward(x: F32, dy: F32): F32;
  /** Elementwise a ⊙ b. */
  mul(a: F32, b: F32): F32;
  /** SiLU (swish), x·σ(x), as in SwiGLU. */
  silu(x: F32): F32;
  siluBackward(x: F32, dy: F32): F32;
  /** σ(x) elementwise. */
  sigmoid(x: F32): F32;
  /** Softmax over the last dimension. */
  softmax(x: F32): F32;
  /** Given y = softmax(x) and dy, returns dx. */
  softmaxBackward(y: F32, dy: F32): F32;
  layerNorm(x: F32, gamma: F32, beta: F32, eps: number): { y: F32; mean: F32; rstd: F32 };
  layerNormBackward(x: F32, gamma: F32, mean: F32, rstd: F32, dy: F32): { dx: F32; dgamma: F32; dbeta: F32 };
  /** RMSNorm over the last dimension: x·rstd·γ, rstd = 1/√(mean(x²) + eps) per row. */
  rmsNorm(x: F32, gamma: F32, eps: number): { y: F32; rstd: F32 };
  rmsNormBackward(x: F32, gamma: F32, rstd: F32, dy: F32): { dx: F32; dgamma: F32 };
  /** Rows of table[V,C] picked by ids[T] → [T,C]. */
  embedding(table: F32, ids: I32): F32;
  /** Scatter-add of dy[T,C] into a zero [vocab,C] at ids. */
  embeddingBackward(ids: I32, dy: F32, vocab: number): F32;
  /** Per-row loss −log softmax(logits)[target]; targets < 0 are ignored (loss 0). */
  crossEntropy(logits: F32, targets: I32): { loss: F32; probs: F32 };
  /** (probs − onehot)·scale per row; ignored rows get 0. */
  crossEntropyBackward(probs: F32, targets: I32, scale: number): F32;
  /** The k largest values of each row (descending; ties keep the lower index) and their column indices. */
  topk(x: F32, k: number): { values: F32; indices: I32 };
  /** Scatters dValues[R,k] back to a zero [R,cols] at indices. */
  topkBackward(indices: I32, dValues: F32, cols: number): F32;
  /** scores[(b*H+h)*S+i, j] = scale·q_i·k_j per head; −1e9 where causal and j > i. */
  attentionScores(q: F32, k: F32, shape: AttentionShape): F32;
  /** out[b*S+i, h*D+c] = Σ_j p[(b*H+h)*S+i, j]·v[b*S+j, h*D+c]; with `causal`, weights above the diagonal (j > i) are taken as zero. */
  attentionApply(p: F32, v: F32, shape: AttentionShape): F32;
  /** out[b*S+j, h*D+c] = Σ_i p[(b*H+h)*S+i, j]·x[b*S+i, h*D+c] (the transposed apply, for backward; causal as attentionApply) */
  attentionApplyT(p: F32, x: F32, shape: AttentionShape): F32;
  sumSquares(x: F32): number;
  adamw(param: F32, grad: F32, m: F32, v: F32, hyper: AdamWHyper): void;
  /** into += x, in place (a parameter's gradient gathering one backward's contribution). */
  accumulate(into: F32, x: F32): void;
}

export type KernelName = keyof KernelSignatures;
export type KernelArgs<K extends KernelName> = Parameters<KernelSignatures[K]>;
export type KernelResult<K extends KernelName> = ReturnType<KernelSignatures[K]>;

/** What a backend exposes to layers: every kernel, asynchronous (GPU backends resolve later). */
export type Ops = { [K in KernelName]: (...args: KernelArgs<K>) => Promise<KernelResult<K>> };

/** One kernel implementation for one backend family, tfjs-style: `{ kernel, backend, run }`. */
export interface KernelConfig<K extends KernelName = KernelName, Ctx = unknown> {
  kernel: K;
  backend: string;
  run: (ctx: Ctx, ...args: KernelArgs<K>) => KernelResult<K> | Promise<KernelResult<K>>;
}

export const kernelNames = [
  'matmul', 'matmulAccumulate', 'biasAdd', 'colSum', 'add', 'scale', 'relu', 'reluBackward', 'gelu', 'geluBackward',
  'mul', 'silu', 'siluBackward', 'sigmoid',
  'softmax', 'softmaxBackward', 'layerNorm', 'layerNormBackward', 'rmsNorm', 'rmsNormBackward', 'embedding', 'embeddingBackward',
  'crossEntropy', 'crossEntropyBackward', 'topk', 'topkBackward', 'attentionScores', 'attentionApply',
  'attentionApplyT', 'sumSquares', 'adamw', 'accumulate',
] as const satisfies readonly KernelName[];

// Compile-time check that the list above names every kernel.
type Missing = Exclude<KernelName, (typeof kernelNames)[number]>;
const allNamed: Missing extends never ? true : Missing = true;
void allNamed;
