// An expert and a gate of your own, registered by name so that every device can build them: list
// this module in `modules` and name them in the MoE options (`expert: 'squared-relu'`,
// `kind: 'sharp-softmax'`). Both are written forward only; the tape gives their gradients.
import { ad, chosenWeights, Expert, Gate, registerExpert, registerGate } from 'flexmoe';
import type { F32, Parameter, Route } from 'flexmoe';

/** Primer's squared-ReLU FFN: down(relu(up·x)²). */
export class SquaredReLUExpert extends Expert {
  readonly up = this.linear('up', this.dModel, this.dFF);
  readonly down = this.linear('down', this.dFF, this.dModel, { std: this.spec.outStd });

  async forward(x: F32): Promise<F32> {
    const h = await ad.relu(this.be, await this.up.forward(x));
    return this.down.forward(await ad.mul(this.be, h, h));
  }

  parameters(): Parameter[] {
    return [...this.up.parameters(), ...this.down.parameters()];
  }
}

/** A softmax router over sharpened logits (×2), no bias, weights renormalised over the k choices. */
export class SharpSoftmaxGate extends Gate {
  readonly proj = this.linear('proj', this.dModel, this.options.experts, { bias: false, std: 0.02 });

  async route(x: F32): Promise<Route> {
    const probs = await ad.softmax(this.be, await ad.scale(this.be, await this.proj.forward(x), 2));
    const { indices } = await this.be.ops.topk(probs, this.options.topk);
    return { indices, weights: await chosenWeights(probs, indices, true) };
  }

  parameters(): Parameter[] {
    return this.proj.parameters();
  }
}

registerExpert('squared-relu', SquaredReLUExpert);
registerGate('sharp-softmax', SharpSoftmaxGate);
