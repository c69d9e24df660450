import type { Backend } from '../kernels/backend.js';
import type { F32, Tensor } from '../tensor/tensor.js';
import { Embedding } from '../nn/embedding.js';
import { LayerNorm } from '../nn/layernorm.js';
import { Linear, type LinearOptions } from '../nn/linear.js';
import { RMSNorm } from '../nn/rmsnorm.js';
import { CausalSelfAttention } from '../nn/attention.js';
import type { Parameter, ParamDType } from '../nn/parameter.js';
import { Rng } from '../nn/random.js';
import { MoELayer, type MoELayerOptions } from '../moe/moe-layer.js';
import type { RoutedFeedForward } from './char-transformer.js';
import type { MakeMoE, TaskModel } from './tasks.js';

/** What every composed model's config has: its seed and float type (a language task adds vocab and seq). */
export interface ModelConfig {
  seed: number;
  dtype?: ParamDType;
}

/**
 * A model composed in code. Extend it, make layers in fields with the helpers (each draws its
 * initialisation from the model's seed, in the order they are made, and is counted in
 * `parameters()`), and write `forward` with autograd ops: trainers differentiate it on a tape.
 * `this.moeLayer(...)` makes an MoE layer: in one process a `MoELayer`; on devices the layer a trainer
 * or server hands in, whose gate and experts are actors it places, clones and moves.
 *
 * ```ts
 * class Tiny extends Model<LanguageConfig> {
 *   tokens = this.embedding('tokens', this.config.vocab, 32);
 *   ffn = this.moeLayer('moe', { dModel: 32, dFF: 64, experts: 4, topk: 2, expert: 'swiglu' });
 *   head = this.linear('head', 32, this.config.vocab);
 *   async forward(ids: Tensor) { return this.head.forward(await this.ffn.forward(await this.tokens.forward(ids as I32))); }
 * }
 * ```
 */
export abstract class Model<C extends ModelConfig = ModelConfig> implements TaskModel {
  private readonly rng: Rng;
  private readonly owned: { parameters(): Parameter[] }[] = [];
  private readonly routed: RoutedFeedForward[] = [];
  private made = 0;

  constructor(protected readonly be: Backend, readonly config: C, private readonly makeMoE?: MakeMoE) {
    this.rng = new Rng(config.seed);
  }

  /** Logits for a batch of inputs. */
  abstract forward(inputs: Tensor, batch: number): Promise<F32>;

  /** Counts a layer made without the helpers in `parameters()`. */
  protected own<L extends { parameters(): Parameter[] }>(layer: L): L {
    this.owned.push(layer);
    return layer;
  }

  /** A generator for the next layer made without the helpers (each call forks a new one, in order). */
  protected nextRng(): Rng {
    return this.rng.fork(++this.made);
  }

  protected linear(name: string, inFeatures: number, outFeatures: number, opts: Omit<LinearOptions, 'rng' | 'dtype'> = {}): Linear {
    return this.own(new Linear(this.be, inFeatures, outFeatures, { ...opts, rng: this.nextRng(), dtype: this.config.dtype, name }));
  }

  protected embedding(name: string, count: number, dim: number, std = 0.02): Embedding {
    return this.own(new Embedding(this.be, count, dim, { rng: this.nextRng(), dtype: this.config.dtype, name, std }));
  }

  protected rmsNorm(name: string, dim: number): RMSNorm {
    return this.own(new RMSNorm(this.be, dim, { name, dtype: this.config.dtype }));
  }

  protected layerNorm(name: string, dim: number): LayerNorm {
    return this.own(new LayerNorm(this.be, dim, { name, dtype: this.config.dtype }));
  }

  /** Multi-head self-attention, causal unless `causal` is false; `outStd` scales its output projection's init. */
  protected attention(name: string, dModel: number, heads: number, opts: { causal?: boolean; outStd?: number } = {}): CausalSelfAttention {
    return this.own(new CausalSelfAttention(this.be, dModel, heads, { ...opts, rng: this.nextRng(), dtype: this.config.dtype, name }));
  }

  /** A Mixture-of-Experts layer: experts of the registered class `expert` (default `ffn`), gate `kind` (default `topk`). */
  protected moeLayer(name: string, opts: MoELayerOptions & { dModel: number; outStd?: number }): RoutedFeedForward {
    const { dModel, ...rest } = opts;
    const o = { ...rest, rng: this.nextRng(), dtype: this.config.dtype, name, outStd: opts.outStd ?? 0.02 };
    const layer: RoutedFeedForward = this.makeMoE ? this.makeMoE(this.routed.length, o) : new MoELayer(this.be, dModel, o);
    this.routed.push(layer);
    return this.own(layer);
  }

  /** Every parameter once, in the order the layers were made (a layer inside another counts once). */
  parameters(): Parameter[] {
    return [...new Set(this.owned.flatMap((l) => l.parameters()))];
  }

  moeLayers(): RoutedFeedForward[] {
    return [...this.routed];
  }

  /** The routers' auxiliary losses of the last forward (already part of what a tape differentiates). */
  auxLoss(): number {
    return this.routed.reduce((s, l) => s + l.auxLoss(), 0);
  }
}
