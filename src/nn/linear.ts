import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import type { F32 } from '../tensor/tensor.js';
import { constantInit, normalInit, Parameter, type InitOptions, residentParameter } from './parameter.js';
import * as ad from '../autograd/ops.js';
import { LastPass } from '../autograd/grad.js';

export interface LinearOptions extends InitOptions {
  bias?: boolean;
  /** Standard deviation of the weight init; default 1/√in (keeps activations O(1)). */
  std?: number;
}

/** y = x·W + b with W stored [in, out]. */
export class Linear {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  private readonly pass: LastPass;

  constructor(
    private readonly be: Backend,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions & { name?: string },
  ) {
    const name = opts.name ?? 'linear';
    this.weight = residentParameter(be, `${name}.weight`, normalInit([inFeatures, outFeatures], opts.std ?? 1 / Math.sqrt(inFeatures), opts));
    this.bias = opts.bias === false ? null : residentParameter(be, `${name}.bias`, constantInit([outFeatures], 0, opts.dtype));
    this.pass = new LastPass(be, 'Linear');
  }

  async forward(x: F32): Promise<F32> {
    if (x.rank !== 2 || x.cols !== this.inFeatures) throw errors.shapeMismatch('Linear.forward', 'input vs weight', x.shape, this.weight.value.shape);
    return this.pass.run([x], () => this.parameters(), async () => {
      const y = await ad.matmul(this.be, x, this.weight.value);
      return this.bias ? ad.biasAdd(this.be, y, this.bias.value) : y;
    });
  }

  /** d(loss)/dx of the last forward; dW and db accumulate. */
  async backward(dy: F32): Promise<F32> {
    return (await this.pass.backward(dy))[0]!;
  }

  parameters(): Parameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }
}
