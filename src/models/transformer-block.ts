import type { Backend } from '../kernels/backend.js';
import type { F32 } from '../tensor/tensor.js';
import { CausalSelfAttention } from '../nn/attention.js';
import { ExpertFFN } from '../nn/ffn.js';
import { LayerNorm } from '../nn/layernorm.js';
import type { InitOptions, Parameter } from '../nn/parameter.js';
import * as ad from '../autograd/ops.js';
import { LastPass } from '../autograd/grad.js';

export interface BlockConfig {
  dModel: number;
  heads: number;
  dFF: number;
  layers: number;
  causal?: boolean;
}

/** What a block's feed-forward part must do: a dense FFN, or a Mixture-of-Experts layer. */
export interface FeedForward {
  forward(x: F32): Promise<F32>;
  backward(dy: F32): Promise<F32>;
  parameters(): Parameter[];
  /** True when its forward records on the tape of whoever calls it (layers written with autograd/ops). */
  readonly recordsOnTape?: boolean;
}

/** Pre-norm transformer block: x + attn(ln1(x)), then + ffn(ln2(·)); the FFN may be an MoE layer. */
export class TransformerBlock {
  readonly ln1: LayerNorm;
  readonly attn: CausalSelfAttention;
  readonly ln2: LayerNorm;
  readonly ffn: FeedForward;
  private readonly pass: LastPass;

  constructor(private readonly be: Backend, cfg: BlockConfig, opts: InitOptions & { name: string; ffn?: (outStd: number) => FeedForward }) {
    // Residual projections start small (GPT-2's 1/√(2·layers) scaling) so deep stacks start near identity.
    const outStd = 0.02 / Math.sqrt(2 * cfg.layers);
    const base = { rng: opts.rng, dtype: opts.dtype, std: 0.02 };
    this.ln1 = new LayerNorm(be, cfg.dModel, { name: `${opts.name}.ln1`, dtype: opts.dtype });
    this.attn = new CausalSelfAttention(be, cfg.dModel, cfg.heads, { ...base, name: `${opts.name}.attn`, outStd, causal: cfg.causal });
    this.ln2 = new LayerNorm(be, cfg.dModel, { name: `${opts.name}.ln2`, dtype: opts.dtype });
    this.ffn = opts.ffn ? opts.ffn(outStd) : new ExpertFFN(be, cfg.dModel, cfg.dFF, { ...base, name: `${opts.name}.ffn`, outStd });
    this.pass = new LastPass(be, 'TransformerBlock');
  }

  private feedForward(x: F32): Promise<F32> {
    return this.ffn.recordsOnTape ? this.ffn.forward(x) : ad.external(x, this.ffn);
  }

  async forward(x: F32, batch: number): Promise<F32> {
    const be = this.be;
    return this.pass.run([x], () => this.parameters(), async () => {
      const h = await ad.add(be, x, await this.attn.forward(await this.ln1.forward(x), batch));
      return ad.add(be, h, await this.feedForward(await this.ln2.forward(h)));
    });
  }

  /**
   * The block's output at rows `rows` of x alone, for inference that reads only some positions
   * (the last block of a language model sampling the next token). Attention still reads every
   * position; all that follows it works row by row, so it runs on those rows only. No backward.
   */
  async forwardRows(x: F32, batch: number, rows: readonly number[]): Promise<F32> {
    const { ops } = this.be;
    const h = (await ops.add(x, await this.attn.forward(await this.ln1.forward(x), batch))).pickRows(rows) as F32;
    return ops.add(h, await this.ffn.forward(await this.ln2.forward(h)));
  }

  /** d(loss)/dx of the last forward; parameter gradients accumulate. */
  async backward(dy: F32): Promise<F32> {
    return (await this.pass.backward(dy))[0]!;
  }

  parameters(): Parameter[] {
    return [...this.ln1.parameters(), ...this.attn.parameters(), ...this.ln2.parameters(), ...this.ffn.parameters()];
  }
}
