import type { Backend } from '../kernels/backend.js';
import type { AttentionShape } from '../kernels/types.js';
import { errors } from '../errors.js';
import type { F32 } from '../tensor/tensor.js';
import { Linear } from './linear.js';
import type { InitOptions, Parameter } from './parameter.js';
import * as ad from '../autograd/ops.js';
import { LastPass } from '../autograd/grad.js';

/** Multi-head self-attention (causal unless told otherwise) over tokens laid out [batch·seq, dModel]. */
export class CausalSelfAttention {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly out: Linear;
  private readonly pass: LastPass;

  constructor(
    private readonly be: Backend,
    readonly dModel: number,
    readonly heads: number,
    opts: InitOptions & { name?: string; outStd?: number; causal?: boolean },
  ) {
    if (dModel % heads !== 0) throw errors.badArgument('CausalSelfAttention', `dModel ${dModel} is not divisible by heads ${heads}`);
    const name = opts.name ?? 'attn';
    this.q = new Linear(be, dModel, dModel, { ...opts, name: `${name}.q` });
    this.k = new Linear(be, dModel, dModel, { ...opts, name: `${name}.k` });
    this.v = new Linear(be, dModel, dModel, { ...opts, name: `${name}.v` });
    this.out = new Linear(be, dModel, dModel, { ...opts, name: `${name}.out`, std: opts.outStd });
    this.causal = opts.causal ?? true;
    this.pass = new LastPass(be, 'CausalSelfAttention');
  }

  readonly causal: boolean;

  async forward(x: F32, batch: number): Promise<F32> {
    if (x.rows % batch !== 0) throw errors.badShape('CausalSelfAttention', x.shape, `rows divisible by batch ${batch}`);
    const shape: AttentionShape = { batch, seq: x.rows / batch, heads: this.heads, causal: this.causal, scale: 1 / Math.sqrt(this.dModel / this.heads) };
    const be = this.be;
    return this.pass.run([x], () => this.parameters(), async () => {
      // v, k, q: the tape sums x's gradient newest first, so this sums q's, k's, then v's part.
      const v = await this.v.forward(x), k = await this.k.forward(x), q = await this.q.forward(x);
      const p = await ad.softmax(be, await ad.attentionScores(be, q, k, shape));
      return this.out.forward(await ad.attentionApply(be, p, v, shape));
    });
  }

  /** d(loss)/dx of the last forward; parameter gradients accumulate. */
  async backward(dy: F32): Promise<F32> {
    return (await this.pass.backward(dy))[0]!;
  }

  parameters(): Parameter[] {
    return [...this.q.parameters(), ...this.k.parameters(), ...this.v.parameters(), ...this.out.parameters()];
  }
}
