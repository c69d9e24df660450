import type { Backend } from '../kernels/backend.js';
import { Tensor, type F32, type I32 } from '../tensor/tensor.js';
import { Parameter } from '../nn/parameter.js';
import type { Linear } from '../nn/linear.js';
import type { Rng } from '../nn/random.js';
import * as ad from '../autograd/ops.js';
import { balanceLoss, chosenWeights, logSumExp, routerZLoss } from '../autograd/moe-ops.js';
import { gradientsOff } from '../autograd/tape.js';
import { Gate, registerGate, type GateInit, type Route } from './gate.js';
import { WorkloadRouting } from './workload-routing.js';

/**
 * The softmax top-k router. logits = x·Wg (+ noise), probs = softmax(logits), top-k choices,
 * combine weights (top-1: the probability, as Switch; top-2 and up: renormalised over the choices,
 * as GShard), then capacity (Gate.forward), which zeroes a dropped weight without renormalising the
 * kept ones. Losses, from statistics all-reduced over the devices:
 *   aux = coef · E · Σ_e f_e · P_e   (P_e: mean probability of e over tokens)
 *     top-1: Switch Transformer's, f_e = fraction of tokens whose choice is e;
 *     top-2: the both-choices form (Mixtral's; GShard counts first choices only), f_e = fraction of
 *     all T·k assignments that go to e. Both count assignments before capacity drops any.
 *   z   = coef · mean_t logsumexp(logits_t)²   (ST-MoE)
 */
export class TopKGate extends Gate {
  readonly proj: Linear;
  private readonly workload: WorkloadRouting | null;

  constructor(be: Backend, dModel: number, init: GateInit) {
    super(be, dModel, init);
    const { experts, topk, routing, routingSteps, routerSkew } = this.options;
    // Seeded from the gate's own generator before initialisation draws from it: one-process and device gates agree.
    this.workload = routing ? new WorkloadRouting(routing, experts, topk, init.rng.position, routingSteps) : null;
    this.proj = this.linear('proj', dModel, experts, { std: 0.02 });
    const bias = this.proj.bias!.value;
    for (let e = 0; e < experts; e++) bias.data[e] = -routerSkew * Math.log(e + 1);
  }

  async route(x: F32, noise?: Rng): Promise<Route> {
    const be = this.be, { experts: E, topk: k, noiseStd, auxCoef, zCoef } = this.options;
    const T = x.rows;
    const logits = await this.proj.forward(x);
    // Noise is a constant added to the logits: no gradient of its own.
    if (noise && noiseStd > 0) for (let i = 0; i < logits.size; i++) logits.data[i]! += noise.normal() * noiseStd;
    const probs = await ad.softmax(be, logits);
    const indices = this.workload ? (new Tensor('i32', [T, k], this.workload.choose(this.routingStep, this.device * T, T)) as I32) : (await be.ops.topk(probs, k)).indices;
    const weights = await chosenWeights(probs, indices, k > 1);
    // Global statistics: [counts (E), probability sums (E), Σ lse², tokens]
    const local = new Float64Array(2 * E + 2);
    for (let i = 0; i < T * k; i++) local[indices.data[i]!]!++;
    for (let t = 0; t < T; t++) {
      for (let e = 0; e < E; e++) local[E + e]! += probs.data[t * E + e]!;
      if (zCoef > 0) local[2 * E]! += logSumExp(logits.data, t * E, E) ** 2;
    }
    local[2 * E + 1] = T;
    const g = await this.reduce(local);
    const tokens = g[2 * E + 1]!;
    if (tokens === 0) return { indices, weights };
    return {
      indices, weights,
      aux: auxCoef > 0 ? await balanceLoss(probs, g.slice(0, E), g.slice(E, 2 * E), tokens, k, auxCoef) : undefined,
      z: zCoef > 0 ? await routerZLoss(logits, probs, g[2 * E]!, tokens, zCoef) : undefined,
    };
  }

  parameters(): Parameter[] {
    return this.proj.parameters();
  }
}

/**
 * DeepSeek-V3's auxiliary-loss-free router: scores s = σ(x·Wg); each token takes the k experts with
 * the highest s + b, where b is a per-expert balancing bias outside the gradient; combine weights
 * are the chosen scores normalised over the k (top-1: the score itself, so the router still learns).
 * After every training forward (any forward not under `untaped`), each expert's bias moves by `biasRate` toward balance: up when the
 * expert got fewer than the mean of the assignments over all devices, down when more.
 * The bias travels with the gate's parameters (clones, checkpoints) but has no gradient.
 */
export class SigmoidGate extends Gate {
  readonly proj: Linear;
  /** Per-expert balancing bias: kept as a parameter so it is checkpointed and cloned; its gradient is always 0. */
  readonly balance: Parameter;

  constructor(be: Backend, dModel: number, init: GateInit) {
    super(be, dModel, init);
    const { experts, routerSkew } = this.options;
    this.proj = this.linear('proj', dModel, experts, { std: 0.02 });
    const bias = this.proj.bias!.value;
    for (let e = 0; e < experts; e++) bias.data[e] = -routerSkew * Math.log(e + 1);
    this.balance = new Parameter(`${this.name}.balance`, Tensor.zeros([experts], init.dtype ?? 'f32') as F32);
  }

  async route(x: F32): Promise<Route> {
    const be = this.be, { experts: E, topk: k, biasRate } = this.options;
    const T = x.rows;
    const scores = await ad.sigmoid(be, await this.proj.forward(x));
    const biased = Tensor.zeros([T, E], scores.dtype) as F32;
    for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) biased.data[t * E + e] = scores.data[t * E + e]! + this.balance.value.data[e]!;
    const { indices } = await be.ops.topk(biased, k);
    const weights = await chosenWeights(scores, indices, k > 1);
    const local = new Float64Array(E);
    for (let i = 0; i < T * k; i++) local[indices.data[i]!]!++;
    const counts = await this.reduce(local);
    // Training only: evaluation, sampling and serving run untaped and leave the bias alone.
    if (!gradientsOff()) {
      const mean = counts.reduce((a, b) => a + b, 0) / E;
      for (let e = 0; e < E; e++) this.balance.value.data[e]! += biasRate * Math.sign(mean - counts[e]!);
    }
    return { indices, weights };
  }

  parameters(): Parameter[] {
    return [...this.proj.parameters(), this.balance];
  }
}

registerGate('topk', TopKGate);
registerGate('sigmoid', SigmoidGate);

export { makeGate, registerGate, knownGates, Gate, type GateOptions, type GateInit, type Route, type Routing } from './gate.js';
