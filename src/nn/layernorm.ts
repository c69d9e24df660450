import type { Backend } from '../kernels/backend.js';
import type { F32 } from '../tensor/tensor.js';
import { constantInit, Parameter, type ParamDType, residentParameter } from './parameter.js';
import * as ad from '../autograd/ops.js';
import { LastPass } from '../autograd/grad.js';

/** LayerNorm over the last dimension with learned scale γ and shift β. */
export class LayerNorm {
  readonly gamma: Parameter;
  readonly beta: Parameter;
  private readonly pass: LastPass;

  constructor(private readonly be: Backend, readonly dim: number, opts: { name?: string; eps?: number; dtype?: ParamDType } = {}) {
    const name = opts.name ?? 'ln';
    this.gamma = residentParameter(be, `${name}.gamma`, constantInit([dim], 1, opts.dtype));
    this.beta = residentParameter(be, `${name}.beta`, constantInit([dim], 0, opts.dtype));
    this.eps = opts.eps ?? 1e-5;
    this.pass = new LastPass(be, 'LayerNorm');
  }

  readonly eps: number;

  async forward(x: F32): Promise<F32> {
    return this.pass.run([x], () => this.parameters(), () => ad.layerNorm(this.be, x, this.gamma.value, this.beta.value, this.eps));
  }

  /** d(loss)/dx of the last forward; γ and β gradients accumulate. */
  async backward(dy: F32): Promise<F32> {
    return (await this.pass.backward(dy))[0]!;
  }

  parameters(): Parameter[] {
    return [this.gamma, this.beta];
  }
}
