import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import type { F32, I32 } from '../tensor/tensor.js';
import { Linear, type LinearOptions } from '../nn/linear.js';
import type { InitOptions, Parameter } from '../nn/parameter.js';
import type { Rng } from '../nn/random.js';
import { currentTape } from '../autograd/tape.js';
import { keepSlots } from '../autograd/moe-ops.js';
import { cast } from '../autograd/ops.js';

export interface GateOptions {
  experts: number;
  topk: number;
  /** The gate class, by its registered name (`registerGate`); default `topk`, the softmax router. */
  kind?: string;
  /** Switch/GShard auxiliary load-balancing loss coefficient (0: off; softmax gate). */
  auxCoef?: number;
  /** Router z-loss coefficient (ST-MoE; 0: off; softmax gate). */
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
   * measuring placement under a chosen skew; see workload-routing.ts. Softmax gate.
   */
  routing?: string;
  /** The run's length, for a workload with a transient phase. */
  routingSteps?: number;
  /** Sigmoid gate: how far each step nudges an expert's balancing bias (DeepSeek-V3's γ). */
  biasRate?: number;
}

/** The routing of one batch: which experts each token goes to, with what weight. */
export interface Routing {
  /** [T, k] chosen experts. */
  indices: I32;
  /** [T, k] combine weights; 0 for a dropped assignment (the values of `weightTensor`). */
  weights: Float64Array;
  /** The same weights as a float64 tensor on the tape: the combine step's input. */
  weightTensor: F32;
  /** [T, k] whether the assignment was kept (within capacity). */
  kept: Uint8Array;
  /** Assignments per expert before capacity. */
  counts: Float64Array;
  dropped: number;
  auxLoss: number;
  zLoss: number;
}

/** What a gate's `route` returns: each token's experts, their combine weights, and any losses of its own. */
export interface Route {
  /** [T, k] experts per token. */
  indices: I32;
  /** [T, k] combine weights, computed with autograd ops from the gate's parameters. */
  weights: F32;
  /** A [1] auxiliary loss (load balancing), made with autograd ops: part of the training loss. */
  aux?: F32;
  /** A [1] router z-loss, likewise. */
  z?: F32;
}

export type GateInit = GateOptions & InitOptions & { name?: string };

/**
 * A router: extend it, declare parameters in fields (`this.linear(...)`) and write `route`, which
 * picks each token's `topk` experts and computes their combine weights (and, if it likes, an
 * auxiliary loss) with the autograd ops, so its gradient comes from the tape. The base applies
 * capacity, counts the assignments and adds the losses to the tape. Register the class by name
 * (`registerGate`) so devices can build it.
 *
 * ```ts
 * class MyGate extends Gate {
 *   proj = this.linear('proj', this.dModel, this.options.experts);
 *   async route(x: F32) {
 *     const probs = await ad.softmax(this.be, await this.proj.forward(x));
 *     const { indices } = await this.be.ops.topk(probs, this.options.topk);
 *     return { indices, weights: await chosenWeights(probs, indices, true) };
 *   }
 * }
 * registerGate('my-gate', MyGate);
 * ```
 */
export abstract class Gate {
  readonly options: Required<GateOptions>;
  readonly name: string;
  /**
   * Sums a vector over every device holding part of the batch (an all-reduce), so statistics are
   * global and match a single-device run. Identity on one device.
   */
  reduce: (v: Float64Array) => Promise<Float64Array> = async (v) => v;
  /** With workload routing: the step to route by (the trainers set it before every step's forward). */
  routingStep = 0;
  /**
   * The device this gate routes for. Every device routes an equal share of the global batch, so
   * its T tokens sit at global positions device·T … device·T + T − 1.
   */
  device = 0;
  private last: Routing | null = null;

  constructor(protected readonly be: Backend, readonly dModel: number, protected readonly init: GateInit) {
    this.options = { auxCoef: 0.01, zCoef: 0, capacityFactor: 0, noiseStd: 0, routerSkew: 0, routing: '', routingSteps: 0, kind: 'topk', biasRate: 1e-3, ...stripUndefined(init) } as Required<GateOptions>;
    this.name = init.name ?? 'gate';
    const { topk, experts } = this.options;
    if (!Number.isInteger(topk) || topk < 1) throw errors.badArgument('Gate', `topk must be a positive integer, got ${topk}`);
    if (topk > experts) throw errors.badArgument('Gate', `topk ${topk} > experts ${experts}`);
  }

  /** A Linear named `<gate name>.<name>`, initialised from the gate's generator. */
  protected linear(name: string, inFeatures: number, outFeatures: number, opts: Omit<LinearOptions, keyof InitOptions> = {}): Linear {
    const { rng, dtype, skipInit } = this.init;
    return new Linear(this.be, inFeatures, outFeatures, { rng, dtype, skipInit, ...opts, name: `${this.name}.${name}` });
  }

  /** The routing of the last forward (its `counts` are this replica's assignments per expert). */
  get lastRouting(): Routing | null {
    return this.last;
  }

  /** Picks experts and weights for each row of x [T, dModel]. */
  abstract route(x: F32, noise?: Rng): Promise<Route>;

  abstract parameters(): Parameter[];

  /** Routes x, then drops assignments past capacity (token order, first choices first) and adds the gate's losses to the tape. */
  async forward(x: F32, noise?: Rng): Promise<Routing> {
    const { experts: E, topk: k, capacityFactor } = this.options;
    const T = x.rows;
    const route = await this.route(x, noise);
    const { indices } = route;
    if (indices.rows !== T || indices.cols !== k) throw errors.badShape(`${this.name}.route indices`, indices.shape, `[${T}, ${k}]`);
    if (route.weights.size !== T * k) throw errors.badShape(`${this.name}.route weights`, route.weights.shape, `[${T}, ${k}]`);
    const kept = new Uint8Array(T * k).fill(1), counts = new Float64Array(E);
    let dropped = 0;
    const capacity = capacityFactor > 0 ? Math.ceil((capacityFactor * T * k) / E) : Infinity;
    // Capacity in token order, first choices before second choices (GShard's priority).
    for (let j = 0; j < k; j++) {
      for (let t = 0; t < T; t++) {
        const e = indices.data[t * k + j]!;
        if (!(e >= 0 && e < E)) throw errors.indexOutOfRange(`${this.name}.route`, e, E, t * k + j);
        counts[e]!++;
        if (counts[e]! > capacity) {
          kept[t * k + j] = 0;
          dropped++;
        }
      }
    }
    // Weights in float64 whatever the model's dtype: the combine step sums in float64.
    const weightTensor = await keepSlots(await asFloat64(route.weights), kept);
    const tape = currentTape();
    if (route.aux) tape?.addLoss(route.aux);
    if (route.z) tape?.addLoss(route.z);
    const routing: Routing = { indices, weights: weightTensor.data as unknown as Float64Array, weightTensor, kept, counts, dropped, auxLoss: route.aux?.data[0] ?? 0, zLoss: route.z?.data[0] ?? 0 };
    this.last = routing;
    return routing;
  }

  toString(): string {
    return `${this.constructor.name} ${this.name} (${this.options.experts} experts, top-${this.options.topk})`;
  }
}

async function asFloat64(w: F32): Promise<F32> {
  return (w.dtype as string) === 'f64' ? w : cast(w, 'f64');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type GateClass = new (be: Backend, dModel: number, init: GateInit) => Gate;

// One registry per thread, even when this module is loaded twice (see tasks.ts).
const gates: Map<string, GateClass> = ((globalThis as Record<symbol, unknown>)[Symbol.for('flexmoe.gates')] ??= new Map()) as Map<string, GateClass>;

/** Makes a gate class known by name, on this thread (register at module load; list the module in `modules`). */
export function registerGate(name: string, cls: GateClass): void {
  gates.set(name, cls);
}

export function knownGates(): string[] {
  return [...gates.keys()];
}

/** Builds the gate `init.kind` names (default `topk`). */
export function makeGate(be: Backend, dModel: number, init: GateInit): Gate {
  const kind = init.kind ?? 'topk';
  const cls = gates.get(kind);
  if (!cls) throw errors.badArgument('gate', `unknown gate "${kind}"; known: ${knownGates().join(', ')} (register yours with registerGate in a module every device loads)`);
  return new cls(be, dModel, init);
}
