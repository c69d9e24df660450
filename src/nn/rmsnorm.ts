import type { Backend } from '../kernels/backend.js';
import type { F32 } from '../tensor/tensor.js';
import { constantInit, Parameter, type ParamDType, residentParameter } from './parameter.js';
import * as ad from '../autograd/ops.js';
import { LastPass } from '../autograd/grad.js';

/** RMSNorm over the last dimension with a learned scale γ (no shift), as Llama and Mixtral use. */
export class RMSNorm {
  readonly gamma: Parameter;
  readonly eps: number;
  private readonly pass: LastPass;

  constructor(private readonly be: Backend, readonly dim: number, opts: { name?: string; eps?: number; dtype?: ParamDType } = {}) {
    this.gamma = residentParameter(be, `${opts.name ?? 'rmsnorm'}.gamma`, constantInit([dim], 1, opts.dtype));
    this.eps = opts.eps ?? 1e-5;
    this.pass = new LastPass(be, 'RMSNorm');
  }

  async forward(x: F32): Promise<F32> {
    return this.pass.run([x], () => this.parameters(), () => ad.rmsNorm(this.be, x, this.gamma.value, this.eps));
  }

  /** d(loss)/dx of the last forward; γ's gradient accumulates. */
  async backward(dy: F32): Promise<F32> {
    return (await this.pass.backward(dy))[0]!;
  }

  parameters(): Parameter[] {
    return [this.gamma];
  }
}
