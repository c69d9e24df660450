import type { Backend } from '../kernels/backend.js';
import type { F32 } from '../tensor/tensor.js';
import { constantInit, Parameter, type ParamDType } from './parameter.js';

/** LayerNorm over the last dimension with learned scale γ and shift β. */
export class LayerNorm {
  readonly gamma: Parameter;
  readonly beta: Parameter;
  private saved: { x: F32; mean: F32; rstd: F32 } | null = null;

  constructor(private readonly be: Backend, readonly dim: number, opts: { name?: string; eps?: number; dtype?: ParamDType } = {}) {
    const name = opts.name ?? 'ln';
    this.gamma = new Parameter(`${name}.gamma`, constantInit([dim], 1, opts.dtype));
    this.beta = new Parameter(`${name}.beta`, constantInit([dim], 0, opts.dtype));
    this.eps = opts.eps ?? 1e-5;
  }

  readonly eps: number;

  async forward(x: F32): Promise<F32> {
    const { y, mean, rstd } = await this.be.ops.layerNorm(x, this.gamma.value, this.beta.value, this.eps);
    this.saved = { x, mean, rstd };
    return y;
  }

  async backward(dy: F32): Promise<F32> {
    const { x, mean, rstd } = this.saved!;
    const { ops } = this.be;
    const { dx, dgamma, dbeta } = await ops.layerNormBackward(x, this.gamma.value, mean, rstd, dy);
    this.gamma.accumulate(dgamma);
    this.beta.accumulate(dbeta);
    return dx;
  }

  parameters(): Parameter[] {
    return [this.gamma, this.beta];
  }
}
