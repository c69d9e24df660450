import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { Tensor, type F32, type I32 } from '../tensor/tensor.js';
import { Embedding } from '../nn/embedding.js';
import { LayerNorm } from '../nn/layernorm.js';
import { Linear } from '../nn/linear.js';
import { Rng } from '../nn/random.js';
import type { Parameter, ParamDType } from '../nn/parameter.js';
import { TransformerBlock, type BlockConfig } from './transformer-block.js';
import { MoELayer, type MoELayerOptions } from '../moe/moe-layer.js';
import type { Routing } from '../moe/gate.js';
import type { InitOptions } from '../nn/parameter.js';
import type { FeedForward } from './transformer-block.js';
import * as ad from '../autograd/ops.js';
import { LastPass } from '../autograd/grad.js';

/** A feed-forward layer that routes tokens (an MoE layer, in one process or across devices). */
export interface RoutedFeedForward extends FeedForward {
  lastRouting: Routing | null;
  auxLoss(): number;
}

export interface CharTransformerConfig extends BlockConfig {
  vocab: number;
  /** Context length (positions). */
  seq: number;
  seed: number;
  dtype?: ParamDType;
  /** Make every block's FFN a Mixture-of-Experts layer (GPT-MoE); dense when absent. */
  moe?: Omit<MoELayerOptions, 'dFF'>;
}

/** A decoder-only (GPT-style) transformer over characters; with `moe`, every FFN is a Mixture-of-Experts layer (GPT-MoE). */
export class CharTransformer {
  readonly config: CharTransformerConfig;
  readonly tokens: Embedding;
  readonly positions: Embedding;
  readonly blocks: TransformerBlock[];
  readonly lnFinal: LayerNorm;
  readonly head: Linear;
  private readonly pass: LastPass;

  /**
   * `makeMoE` builds each block's MoE layer when given (e.g. the distributed layer on a device);
   * otherwise `config.moe` makes one-process MoE layers.
   */
  constructor(private readonly be: Backend, config: CharTransformerConfig, makeMoE?: (block: number, opts: MoELayerOptions & InitOptions & { name: string; outStd: number }) => RoutedFeedForward) {
    this.config = config;
    const rng = new Rng(config.seed);
    const { dtype } = config;
    this.tokens = new Embedding(be, config.vocab, config.dModel, { rng: rng.fork(1), dtype, name: 'tokens' });
    this.positions = new Embedding(be, config.seq, config.dModel, { rng: rng.fork(2), dtype, name: 'positions' });
    this.blocks = Array.from({ length: config.layers }, (_, i) => {
      const name = `block${i}`;
      const moe = config.moe;
      const build = makeMoE ?? ((_: number, o: MoELayerOptions & InitOptions & { name: string; outStd: number }) => new MoELayer(be, config.dModel, o));
      const ffn = moe ? (outStd: number) => build(i, { ...moe, dFF: config.dFF, rng: rng.fork(50 + i), dtype, name: `${name}.moe`, outStd }) : undefined;
      return new TransformerBlock(be, config, { rng: rng.fork(10 + i), dtype, name, ffn });
    });
    this.lnFinal = new LayerNorm(be, config.dModel, { name: 'lnFinal', dtype });
    this.head = new Linear(be, config.dModel, config.vocab, { rng: rng.fork(3), dtype, name: 'head', std: 0.02 });
    this.pass = new LastPass(be, 'CharTransformer');
  }

  /** ids: [batch·seq] token ids, row-major by sequence → logits [batch·seq, vocab]. */
  async forward(ids: I32, batch: number): Promise<F32> {
    return this.pass.run([], () => this.parameters(), async () => {
      let x = await this.embed(ids, batch);
      for (const b of this.blocks) x = await b.forward(x, batch);
      return this.head.forward(await this.lnFinal.forward(x));
    });
  }

  /** Token plus position embeddings of checked ids, [batch·seq, dModel]. */
  private async embed(ids: I32, batch: number): Promise<F32> {
    if (ids.dtype !== 'i32') throw errors.dtypeMismatch('CharTransformer.forward', ids.dtype, 'i32 token ids');
    const { seq, vocab } = this.config;
    if (ids.size !== batch * seq) throw errors.badShape('CharTransformer.forward', ids.shape, `[batch·seq = ${batch}·${seq}]`);
    for (let i = 0; i < ids.size; i++) if (ids.data[i]! < 0 || ids.data[i]! >= vocab) throw errors.indexOutOfRange('CharTransformer.forward', ids.data[i]!, vocab, i);
    const pos = Tensor.zeros([batch * seq], 'i32');
    for (let i = 0; i < pos.size; i++) pos.data[i] = i % seq;
    return ad.add(this.be, await this.tokens.forward(ids), await this.positions.forward(pos));
  }

  /**
   * Logits at one position per sequence, `pick[b]` of sequence b, as [batch, vocab]: what sampling
   * the next token reads. The same values as those rows of `forward`, for a fraction of the work:
   * the last block, the final norm and the head run on the picked rows alone. Inference only.
   */
  async forwardAt(ids: I32, batch: number, pick: readonly number[]): Promise<F32> {
    const { seq } = this.config;
    if (pick.length !== batch || pick.some((p) => !Number.isInteger(p) || p < 0 || p >= seq)) throw errors.badArgument('CharTransformer.forwardAt', `pick needs one position in [0, ${seq}) per sequence (${batch}), got [${pick.join(', ')}]`);
    const rows = pick.map((p, b) => b * seq + p);
    let x = await this.embed(ids, batch);
    const last = this.blocks.length - 1;
    for (let i = 0; i < last; i++) x = await this.blocks[i]!.forward(x, batch);
    x = await this.blocks[last]!.forwardRows(x, batch, rows);
    return this.head.forward(await this.lnFinal.forward(x));
  }

  /** Gradients of the last forward's logits: every parameter's accumulates. */
  async backward(dLogits: F32): Promise<void> {
    await this.pass.backward(dLogits);
  }

  /** The MoE layers, in depth order (empty for a dense model). */
  moeLayers(): RoutedFeedForward[] {
    return this.blocks.map((b) => b.ffn).filter((f): f is RoutedFeedForward => 'lastRouting' in f);
  }

  /** Sum of the gates' auxiliary losses from the last forward pass (part of the training loss). */
  auxLoss(): number {
    return this.moeLayers().reduce((s, l) => s + l.auxLoss(), 0);
  }

  parameters(): Parameter[] {
    return [
      ...this.tokens.parameters(), ...this.positions.parameters(),
      ...this.blocks.flatMap((b) => b.parameters()), ...this.lnFinal.parameters(), ...this.head.parameters(),
    ];
  }

  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.value.size, 0);
  }
}
