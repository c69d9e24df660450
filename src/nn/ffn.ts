import type { Backend } from '../kernels/backend.js';
import type { F32 } from '../tensor/tensor.js';
import { Linear } from './linear.js';
import type { InitOptions, Parameter } from './parameter.js';
import * as ad from '../autograd/ops.js';
import { LastPass } from '../autograd/grad.js';

/** The expert feed-forward network: Linear(d→f) → GELU → Linear(f→d). */
export class ExpertFFN {
  readonly up: Linear;
  readonly down: Linear;
  private readonly pass: LastPass;
  readonly recordsOnTape = true;

  constructor(private readonly be: Backend, readonly dModel: number, readonly dFF: number, opts: InitOptions & { name?: string; outStd?: number }) {
    const name = opts.name ?? 'ffn';
    this.up = new Linear(be, dModel, dFF, { ...opts, name: `${name}.up` });
    this.down = new Linear(be, dFF, dModel, { ...opts, name: `${name}.down`, std: opts.outStd });
    this.pass = new LastPass(be, 'ExpertFFN');
  }

  async forward(x: F32): Promise<F32> {
    return this.pass.run([x], () => this.parameters(), async () => this.down.forward(await ad.gelu(this.be, await this.up.forward(x))));
  }

  /** d(loss)/dx of the last forward; parameter gradients accumulate. */
  async backward(dy: F32): Promise<F32> {
    return (await this.pass.backward(dy))[0]!;
  }

  parameters(): Parameter[] {
    return [...this.up.parameters(), ...this.down.parameters()];
  }
}
