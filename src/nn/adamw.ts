import type { Backend } from '../kernels/backend.js';
import { outsideArena } from '../tensor/arena.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import { errors } from '../errors.js';
import { gradSumSquares, type Parameter } from './parameter.js';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient norm to this value (0 or undefined: no clipping). */
  clipNorm?: number;
}

export interface AdamWState {
  step: number;
  moments: Record<string, { m: F32; v: F32 }>;
}

/** AdamW with global-norm gradient clipping. Biases and norm parameters (rank 1) get no weight decay. */
export class AdamW {
  readonly options: Required<AdamWOptions>;
  private stepCount = 0;
  /** Moments by parameter object (names may repeat across independently built layers). */
  private readonly momentsOf = new Map<Parameter, { m: F32; v: F32 }>();
  lastGradNorm = 0;

  private readonly params: Parameter[];

  constructor(private readonly be: Backend, params: Parameter[], opts: AdamWOptions) {
    this.params = [...params];
    this.options = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0, ...opts };
  }

  /** The parameters this optimizer updates. */
  get parameters(): Parameter[] {
    return [...this.params];
  }

  get step(): number {
    return this.stepCount;
  }

  async gradNorm(): Promise<number> {
    return Math.sqrt(await gradSumSquares(this.be, this.params));
  }

  /**
   * One update from the accumulated gradients; gradients are then zeroed. `gradNorm` supplies the
   * global norm when parameters are spread over devices (each device sees only part of them).
   */
  async update(lr = this.options.lr, { gradNorm }: { gradNorm?: number } = {}): Promise<void> {
    const o = this.options;
    this.lastGradNorm = gradNorm ?? (await this.gradNorm());
    // A NaN or Inf gradient would poison every parameter: refuse before touching any.
    if (!Number.isFinite(this.lastGradNorm)) throw errors.nonFinite(`gradient norm at optimizer step ${this.stepCount + 1}`, this.lastGradNorm);
    this.stepCount++;
    const gradScale = o.clipNorm > 0 && this.lastGradNorm > o.clipNorm ? o.clipNorm / this.lastGradNorm : 1;
    for (const p of this.params) {
      const mv = this.moments(p);
      const weightDecay = p.value.rank > 1 ? o.weightDecay : 0;
      await this.be.ops.adamw(p.value, p.grad, mv.m, mv.v, { lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay, step: this.stepCount, gradScale });
      this.be.zero(p.grad);
    }
  }

  /** The parameters this optimizer updates (after a placement change a device trains other experts). */
  setParameters(params: Parameter[]): void {
    this.params.length = 0;
    this.params.push(...params);
  }

  /** Adam moments of one parameter (created on first use), for copying to a new replica. */
  moments(p: Parameter): { m: F32; v: F32 } {
    let mv = this.momentsOf.get(p);
    // Made on first use, often inside a step: kept outside any arena, they live as long as the parameter.
    // Resident where the backend has such memory (Backend.resident): the update then runs in place.
    if (!mv) this.momentsOf.set(p, (mv = outsideArena(() => ({ m: this.be.resident(Tensor.zeros(p.value.shape, p.value.dtype) as F32), v: this.be.resident(Tensor.zeros(p.value.shape, p.value.dtype) as F32) }))));
    return mv;
  }

  /** State by parameter name (for checkpoints); names must then be unique. */
  snapshot(): AdamWState {
    const moments: AdamWState['moments'] = {};
    for (const [p, mv] of this.momentsOf) {
      if (moments[p.name]) throw errors.badArgument('AdamW.snapshot', `two parameters are named "${p.name}"; give their layers distinct names`);
      moments[p.name] = mv;
    }
    return { step: this.stepCount, moments };
  }

  restore(state: AdamWState): void {
    this.stepCount = state.step;
    for (const p of this.params) {
      const mv = state.moments[p.name];
      if (mv) this.momentsOf.set(p, { m: this.be.resident(mv.m), v: this.be.resident(mv.v) });
    }
  }
}
