import type { Backend } from '../kernels/backend.js';
import type { AttentionShape } from '../kernels/types.js';
import { errors } from '../errors.js';
import type { F32 } from '../tensor/tensor.js';
import { Linear } from './linear.js';
import type { InitOptions, Parameter } from './parameter.js';

/**
 * Causal multi-head self-attention over tokens laid out [batch·seq, dModel].
 * Backward: dP = dCtx·Vᵀ, dS = softmax'(P, dP), dQ = dS·K·scale, dK = dSᵀ·Q·scale, dV = Pᵀ·dCtx.
 */
export class CausalSelfAttention {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly out: Linear;
  private saved: { q: F32; k: F32; v: F32; p: F32; shape: AttentionShape } | null = null;

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
  }

  readonly causal: boolean;

  async forward(x: F32, batch: number): Promise<F32> {
    if (x.rows % batch !== 0) throw errors.badShape('CausalSelfAttention', x.shape, `rows divisible by batch ${batch}`);
    const shape: AttentionShape = { batch, seq: x.rows / batch, heads: this.heads, causal: this.causal, scale: 1 / Math.sqrt(this.dModel / this.heads) };
    const { ops } = this.be;
    const q = await this.q.forward(x), k = await this.k.forward(x), v = await this.v.forward(x);
    const p = await ops.softmax(await ops.attentionScores(q, k, shape));
    this.saved = { q, k, v, p, shape };
    return this.out.forward(await ops.attentionApply(p, v, shape));
  }

  async backward(dy: F32): Promise<F32> {
    const { q, k, v, p, shape } = this.saved!;
    const { ops } = this.be;
    const dCtx = await this.out.backward(dy);
    const dP = await ops.attentionScores(dCtx, v, { ...shape, causal: false, scale: 1 });
    const dS = await ops.softmaxBackward(p, dP);
    const dq = await ops.scale(await ops.attentionApply(dS, k, shape), shape.scale);
    const dk = await ops.scale(await ops.attentionApplyT(dS, q, shape), shape.scale);
    const dv = await ops.attentionApplyT(p, dCtx, shape);
    const dx = await ops.add(await this.q.backward(dq), await this.k.backward(dk));
    return ops.add(dx, await this.v.backward(dv));
  }

  parameters(): Parameter[] {
    return [...this.q.parameters(), ...this.k.parameters(), ...this.v.parameters(), ...this.out.parameters()];
  }
}
