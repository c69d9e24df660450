import type { F32 } from '../tensor/tensor.js';
import type { Parameter } from '../nn/parameter.js';
import * as ad from '../autograd/ops.js';
import { Expert, registerExpert } from './expert.js';

/** The GPT-style expert: Linear(d→f) → GELU → Linear(f→d), with biases. */
export class FFNExpert extends Expert {
  readonly up = this.linear('up', this.dModel, this.dFF);
  readonly down = this.linear('down', this.dFF, this.dModel, { std: this.spec.outStd });

  async forward(x: F32): Promise<F32> {
    return this.down.forward(await ad.gelu(this.be, await this.up.forward(x)));
  }

  parameters(): Parameter[] {
    return [...this.up.parameters(), ...this.down.parameters()];
  }
}

/** Mixtral's and Llama's expert, SwiGLU: w2 · (SiLU(w1·x) ⊙ w3·x), no biases. */
export class SwiGLUExpert extends Expert {
  readonly w1 = this.linear('w1', this.dModel, this.dFF, { bias: false });
  readonly w3 = this.linear('w3', this.dModel, this.dFF, { bias: false });
  readonly w2 = this.linear('w2', this.dFF, this.dModel, { bias: false, std: this.spec.outStd });

  async forward(x: F32): Promise<F32> {
    const be = this.be;
    return this.w2.forward(await ad.mul(be, await ad.silu(be, await this.w1.forward(x)), await this.w3.forward(x)));
  }

  parameters(): Parameter[] {
    return [...this.w1.parameters(), ...this.w3.parameters(), ...this.w2.parameters()];
  }
}

registerExpert('ffn', FFNExpert);
registerExpert('swiglu', SwiGLUExpert);

export { Expert, registerExpert, makeExpert, knownExperts, type ExpertSpec, type ExpertClass } from './expert.js';
