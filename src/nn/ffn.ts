import type { Backend } from '../kernels/backend.js';
import type { F32 } from '../tensor/tensor.js';
import { Linear } from './linear.js';
import type { InitOptions, Parameter } from './parameter.js';

/** The expert feed-forward network: Linear(d→f) → GELU → Linear(f→d). */
export class ExpertFFN {
  readonly up: Linear;
  readonly down: Linear;
  private hidden: F32 | null = null;

  constructor(private readonly be: Backend, readonly dModel: number, readonly dFF: number, opts: InitOptions & { name?: string; outStd?: number }) {
    const name = opts.name ?? 'ffn';
    this.up = new Linear(be, dModel, dFF, { ...opts, name: `${name}.up` });
    this.down = new Linear(be, dFF, dModel, { ...opts, name: `${name}.down`, std: opts.outStd });
  }

  /** A replica sharing this expert's parameters (see Linear.replica). */
  replica(): ExpertFFN {
    const r = Object.create(ExpertFFN.prototype) as ExpertFFN;
    Object.assign(r, { be: this.be, dModel: this.dModel, dFF: this.dFF, up: this.up.replica(), down: this.down.replica(), hidden: null });
    return r;
  }

  async forward(x: F32): Promise<F32> {
    this.hidden = await this.up.forward(x);
    return this.down.forward(await this.be.ops.gelu(this.hidden));
  }

  async backward(dy: F32): Promise<F32> {
    const dAct = await this.down.backward(dy);
    return this.up.backward(await this.be.ops.geluBackward(this.hidden!, dAct));
  }

  parameters(): Parameter[] {
    return [...this.up.parameters(), ...this.down.parameters()];
  }
}
