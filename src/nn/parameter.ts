import type { Backend } from '../kernels/backend.js';
import { expectSameShape } from '../tensor/check.js';
import { Tensor, type DType, type F32 } from '../tensor/tensor.js';
import type { Rng } from './random.js';

/** Float storage for parameters: f32 in training, f64 when a gradient check needs exact arithmetic. */
export type ParamDType = Extract<DType, 'f32' | 'f64'>;

/** A trainable tensor and its accumulated gradient. */
export class Parameter {
  readonly name: string;
  value: F32;
  grad: F32;

  constructor(name: string, value: F32) {
    this.name = name;
    this.value = value;
    this.grad = Tensor.zeros(value.shape, value.dtype) as F32;
  }

  zeroGrad(): void {
    this.grad.data.fill(0);
  }

  /**
   * Adds a gradient contribution in place. The gradient keeps its own storage for the parameter's
   * life, so a step whose scratch tensors come from an arena (tensor/arena.ts) leaves it intact.
   */
  accumulate(g: Tensor): void {
    expectSameShape(`${this.name} gradient`, this.grad, g);
    addLoop(this.grad, g);
  }

  /** `accumulate` on the backend's kernel: a vector loop, in place where the gradient is resident. */
  async accumulateOn(be: Backend, g: Tensor): Promise<void> {
    expectSameShape(`${this.name} gradient`, this.grad, g);
    await addGradient(be, this.grad, g);
  }

  toString(): string {
    return `Parameter ${this.name} ${this.value}`;
  }
}

/**
 * into += g in place: on the backend's kernel in float32, in JavaScript otherwise (the float64
 * gradient checks). Shapes are the caller's to check.
 */
export async function addGradient(be: Backend, into: Tensor, g: Tensor): Promise<void> {
  if (into.dtype !== 'f32' || g.dtype !== 'f32') return addLoop(into, g);
  await be.ops.accumulate(into as F32, g as F32);
}

function addLoop(into: Tensor, g: Tensor): void {
  const a = into.data, b = g.data;
  for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
}

/**
 * `t` in the backend's resident memory (Backend.resident), where kernels read it without copying;
 * `t` itself without a backend (a model built only to be described).
 */
export function residentOn(be: Backend | null | undefined, t: F32): F32 {
  return be ? be.resident(t) : t;
}

/**
 * A parameter whose value and gradient are both resident on `be` (Backend.resident): the
 * gradient's sum, the norm and the optimizer's update then read and write it in place.
 */
export function residentParameter(be: Backend | null | undefined, name: string, value: F32): Parameter {
  const p = new Parameter(name, residentOn(be, value));
  p.grad = residentOn(be, p.grad);
  return p;
}

/** The parameters' gradients' sum of squares on the backend's kernel (f64 sums), parameter by parameter: the gradient norm's square. */
export async function gradSumSquares(be: Backend, params: readonly Parameter[]): Promise<number> {
  let s = 0;
  for (const p of params) s += await be.ops.sumSquares(p.grad);
  return s;
}

export interface InitOptions {
  rng: Rng;
  dtype?: ParamDType;
  /** Leave weights zero: they are about to be overwritten (a restored or checkpointed actor), so drawing them is wasted. */
  skipInit?: boolean;
}

export function normalInit(shape: readonly number[], std: number, { rng, dtype = 'f32', skipInit }: InitOptions): F32 {
  const t = Tensor.zeros(shape, dtype) as F32;
  if (skipInit) return t;
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * std;
  return t;
}

export function constantInit(shape: readonly number[], value: number, dtype: ParamDType = 'f32'): F32 {
  const t = Tensor.zeros(shape, dtype) as F32;
  t.data.fill(value);
  return t;
}

/** Anything that owns parameters (layers, blocks, models). */
export interface HasParameters {
  parameters(): Parameter[];
}

export function zeroGrads(m: HasParameters): void {
  for (const p of m.parameters()) p.zeroGrad();
}
