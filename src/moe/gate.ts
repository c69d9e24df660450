import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { Tensor, type F32, type I32 } from '../tensor/tensor.js';
import { Linear } from '../nn/linear.js';
import type { InitOptions, Parameter } from '../nn/parameter.js';
import type { Rng } from '../nn/random.js';
import { WorkloadRouting } from './workload-routing.js';

export interface GateOptions {
  experts: number;
  topk: 1 | 2;
  /** Switch/GShard auxiliary load-balancing loss coefficient (0: off). */
  auxCoef?: number;
  /** Router z-loss coefficient (ST-MoE; 0: off). */
  zCoef?: number;
  /** Multiplicative capacity: ⌈factor · T · k / E⌉ slots per expert; overflow is dropped. 0: no dropping. */
  capacityFactor?: number;
  /** Standard deviation of Gaussian noise added to logits in training (0: off). */
  noiseStd?: number;
  /** Initial gate bias making expert popularity start Zipf(skew)-distributed (0: uniform). */
  routerSkew?: number;
  /**
   * Route by a synthetic workload instead of the logits (`zipf:S[,drift][,burst][,transient]`, as
   * `flexmoe simulate` takes): each token's experts are drawn from the workload's popularity at
   * `routingStep`; combine weights and gradients still come from the gate's probabilities. For
   * measuring placement under a chosen skew; see workload-routing.ts.
   */
  routing?: string;
  /** The run's length, for a workload with a transient phase. */
  routingSteps?: number;
}

/** The routing of one batch: which experts each token goes to, with what weight. */
export interface Routing {
  /** [T, k] chosen experts (descending probability). */
  indices: I32;
  /** [T, k] combine weights; 0 for a dropped assignment. */
  weights: Float64Array;
  /** [T, k] whether the assignment was kept (within capacity). */
  kept: Uint8Array;
  /** Assignments per expert before capacity. */
  counts: Float64Array;
  dropped: number;
  auxLoss: number;
  zLoss: number;
}

/**
 * A softmax top-k router. Forward: logits = x·Wg (+ noise), probs = softmax(logits), top-k
 * choices, combine weights (top-1: the probability, as Switch; top-2: renormalised over both
 * choices, as GShard), then capacity dropping in token order, which zeroes a dropped weight without
 * renormalising the kept one. The auxiliary losses:
 *   aux = coef · E · Σ_e f_e · P_e   (P_e: mean probability of e over tokens)
 *     top-1: Switch Transformer's, f_e = fraction of tokens whose choice is e;
 *     top-2: the both-choices form (Mixtral's; GShard counts first choices only), f_e = fraction of
 *     all T·k assignments that go to e. Both count assignments before capacity drops any.
 *   z   = coef · mean_t logsumexp(logits_t)²   (ST-MoE)
 * Backward takes d(loss)/d(weights) from the combine step and adds the auxiliary gradients.
 */
export class Gate {
  readonly proj: Linear;
  readonly options: Required<GateOptions>;
  private saved: { x: F32; logits: F32; probs: F32; routing: Routing; globalCounts: Float64Array; globalTokens: number } | null = null;
  /**
   * Sums a vector over every device holding part of the batch (an all-reduce), so the auxiliary
   * losses use global statistics and match a single-device run. Identity on one device.
   */
  reduce: (v: Float64Array) => Promise<Float64Array> = async (v) => v;

  /** With `routing`: the workload step to route by (the trainers set it before every step's forward). */
  routingStep = 0;
  /**
   * With `routing`: the device this gate routes for. Every device routes an equal share of the
   * global batch, so its T tokens sit at global positions device·T … device·T + T − 1, and the
   * draws, hashed from those positions, are the same on any device count.
   */
  device = 0;
  private readonly workload: WorkloadRouting | null;

  constructor(private readonly be: Backend, readonly dModel: number, opts: GateOptions & InitOptions & { name?: string }) {
    this.options = { auxCoef: 0.01, zCoef: 0, capacityFactor: 0, noiseStd: 0, routerSkew: 0, ...opts } as Required<GateOptions>;
    if (opts.topk !== 1 && opts.topk !== 2) throw errors.badArgument('Gate', `topk must be 1 or 2, got ${opts.topk}`);
    if (opts.topk > opts.experts) throw errors.badArgument('Gate', `topk ${opts.topk} > experts ${opts.experts}`);
    // Seeded from the gate's own generator before initialisation draws from it: one-process and device gates agree.
    this.workload = opts.routing ? new WorkloadRouting(opts.routing, opts.experts, opts.topk, opts.rng.position, opts.routingSteps ?? 0) : null;
    this.proj = new Linear(be, dModel, opts.experts, { ...opts, name: `${opts.name ?? 'gate'}.proj`, std: 0.02 });
    const bias = this.proj.bias!.value;
    for (let e = 0; e < opts.experts; e++) bias.data[e] = -this.options.routerSkew * Math.log(e + 1);
  }

  /** The routing of the last forward (its `counts` are this replica's assignments per expert). */
  get lastRouting(): Routing | null {
    return this.saved?.routing ?? null;
  }

  async forward(x: F32, noise?: Rng): Promise<Routing> {
    const { ops } = this.be;
    const { experts: E, topk: k, capacityFactor, noiseStd } = this.options;
    const T = x.rows;
    const logits = await this.proj.forward(x);
    if (noise && noiseStd > 0) for (let i = 0; i < logits.size; i++) logits.data[i]! += noise.normal() * noiseStd;
    const probs = await ops.softmax(logits);
    const indices = this.workload ? new Tensor('i32', [T, k], this.workload.choose(this.routingStep, this.device * T, T)) as I32 : (await ops.topk(probs, k)).indices;
    const weights = new Float64Array(T * k), kept = new Uint8Array(T * k).fill(1), counts = new Float64Array(E);
    for (let t = 0; t < T; t++) {
      let sum = 0;
      for (let j = 0; j < k; j++) sum += probs.data[t * E + indices.data[t * k + j]!]!;
      for (let j = 0; j < k; j++) {
        const p = probs.data[t * E + indices.data[t * k + j]!]!;
        weights[t * k + j] = k === 1 ? p : p / sum;
      }
    }
    let dropped = 0;
    const capacity = capacityFactor > 0 ? Math.ceil((capacityFactor * T * k) / E) : Infinity;
    // Capacity in token order, first choices before second choices (GShard's priority).
    for (let j = 0; j < k; j++) {
      for (let t = 0; t < T; t++) {
        const e = indices.data[t * k + j]!;
        counts[e]!++;
        if (counts[e]! > capacity) {
          kept[t * k + j] = 0;
          weights[t * k + j] = 0;
          dropped++;
        }
      }
    }
    // Global statistics: [counts (E), probability sums (E), Σ lse² , tokens]
    const local = new Float64Array(2 * E + 2);
    local.set(counts, 0);
    for (let t = 0; t < T; t++) {
      for (let e = 0; e < E; e++) local[E + e]! += probs.data[t * E + e]!;
      if (this.options.zCoef > 0) local[2 * E]! += logSumExp(logits.data, t * E, E) ** 2;
    }
    local[2 * E + 1] = T;
    const g = await this.reduce(local);
    const globalCounts = g.slice(0, E), globalTokens = g[2 * E + 1]!;
    const { auxLoss, zLoss } = this.auxLosses(g, globalTokens);
    const routing: Routing = { indices, weights, kept, counts, dropped, auxLoss, zLoss };
    this.saved = { x, logits, probs, routing, globalCounts, globalTokens };
    return routing;
  }

  private auxLosses(g: Float64Array, T: number) {
    const { experts: E, topk: k, auxCoef, zCoef } = this.options;
    let auxLoss = 0, zLoss = 0;
    if (T === 0) return { auxLoss, zLoss };
    if (auxCoef > 0) {
      for (let e = 0; e < E; e++) auxLoss += (g[e]! / (T * k)) * (g[E + e]! / T);
      auxLoss *= auxCoef * E;
    }
    if (zCoef > 0) zLoss = (g[2 * E]! / T) * zCoef;
    return { auxLoss, zLoss };
  }

  /**
   * `dWeights[t·k + j]` = d(loss)/d(combine weight). Adds the auxiliary gradients (aux and z-loss
   * scaled by `auxScale`, the weight of those losses in the total) and returns d(loss)/dx.
   */
  async backward(dWeights: Float64Array, auxScale = 1): Promise<F32> {
    const s = this.saved;
    if (!s) throw errors.badArgument('Gate.backward', 'called before forward');
    const { experts: E, topk: k, auxCoef, zCoef } = this.options;
    const { probs, logits, routing, globalCounts, globalTokens } = s;
    const T = probs.rows;
    const dProbs = Tensor.zeros([T, E], probs.dtype) as F32;
    for (let t = 0; t < T; t++) {
      // top-2 weights are normalised over both choices before capacity zeroes a dropped one, so the
      // dropped choice's probability still sits in the denominator of the kept weight.
      let sum = 0, dot = 0;
      for (let j = 0; j < k; j++) sum += probs.data[t * E + routing.indices.data[t * k + j]!]!;
      if (k > 1) for (let j = 0; j < k; j++) if (routing.kept[t * k + j]) dot += dWeights[t * k + j]! * routing.weights[t * k + j]!;
      for (let j = 0; j < k; j++) {
        const e = routing.indices.data[t * k + j]!;
        // A dropped weight is the constant 0: no gradient of its own.
        const dw = routing.kept[t * k + j] ? dWeights[t * k + j]! : 0;
        if (k === 1) dProbs.data[t * E + e]! += dw;
        // top-2: w_j = p_j / Σ_i p_i over both choices  ⇒  ∂/∂p_j = (dw_j − Σ_i dw_i·w_i) / Σ_i p_i
        else dProbs.data[t * E + e]! += (dw - dot) / sum;
      }
    }
    if (auxCoef > 0 && T > 0) {
      for (let e = 0; e < E; e++) {
        const g = (auxScale * auxCoef * E * (globalCounts[e]! / (globalTokens * k))) / globalTokens;
        for (let t = 0; t < T; t++) dProbs.data[t * E + e]! += g;
      }
    }
    const dLogits = await this.be.ops.softmaxBackward(probs, dProbs);
    if (zCoef > 0 && T > 0) {
      for (let t = 0; t < T; t++) {
        const lse = logSumExp(logits.data, t * E, E);
        const g = (auxScale * zCoef * 2 * lse) / globalTokens;
        for (let e = 0; e < E; e++) dLogits.data[t * E + e]! += g * probs.data[t * E + e]!;
      }
    }
    return this.proj.backward(dLogits);
  }

  parameters(): Parameter[] {
    return this.proj.parameters();
  }
}

function logSumExp(a: ArrayLike<number>, off: number, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, a[off + i]!);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(a[off + i]! - m);
  return m + Math.log(s);
}
