import type { Backend } from '../kernels/backend.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import { Embedding } from '../nn/embedding.js';
import { LayerNorm } from '../nn/layernorm.js';
import { Linear } from '../nn/linear.js';
import { Rng } from '../nn/random.js';
import type { InitOptions, Parameter, ParamDType } from '../nn/parameter.js';
import { MoELayer, type MoELayerOptions } from '../moe/moe-layer.js';
import { checkImages, IMAGE_SIDE } from '../data/mnist.js';
import { TransformerBlock } from './transformer-block.js';
import type { RoutedFeedForward } from './char-transformer.js';
import * as ad from '../autograd/ops.js';
import { LastPass } from '../autograd/grad.js';

export interface VisionMoEConfig {
  /** Patch side in pixels (28 must divide by it). */
  patch: number;
  dModel: number;
  heads: number;
  dFF: number;
  layers: number;
  classes: number;
  seed: number;
  dtype?: ParamDType;
  moe: Omit<MoELayerOptions, 'dFF'>;
}

/**
 * A small ViT-style Mixture-of-Experts classifier: 28×28 images cut into patches, each patch a token
 * (linear embedding + learned position), transformer blocks with bidirectional attention and MoE
 * FFNs, mean pooling over tokens, a linear head to class logits.
 */
export class VisionMoE {
  readonly patchEmbed: Linear;
  readonly positions: Embedding;
  readonly blocks: TransformerBlock[];
  readonly lnFinal: LayerNorm;
  readonly head: Linear;
  readonly tokensPerImage: number;
  private readonly pass: LastPass;

  constructor(private readonly be: Backend, readonly config: VisionMoEConfig, makeMoE?: (block: number, opts: MoELayerOptions & InitOptions & { name: string; outStd: number }) => RoutedFeedForward) {
    const rng = new Rng(config.seed);
    const { dtype, patch, dModel } = config;
    const grid = IMAGE_SIDE / patch;
    this.tokensPerImage = grid * grid;
    this.patchEmbed = new Linear(be, patch * patch, dModel, { rng: rng.fork(1), dtype, name: 'patchEmbed' });
    this.positions = new Embedding(be, this.tokensPerImage, dModel, { rng: rng.fork(2), dtype, name: 'positions' });
    const build = makeMoE ?? ((_: number, o: MoELayerOptions & InitOptions & { name: string; outStd: number }) => new MoELayer(be, dModel, o));
    this.blocks = Array.from({ length: config.layers }, (_, i) =>
      new TransformerBlock(be, { ...config, causal: false }, { rng: rng.fork(10 + i), dtype, name: `block${i}`, ffn: (outStd) => build(i, { ...config.moe, dFF: config.dFF, rng: rng.fork(50 + i), dtype, name: `block${i}.moe`, outStd }) }),
    );
    this.lnFinal = new LayerNorm(be, dModel, { name: 'lnFinal', dtype });
    this.head = new Linear(be, dModel, config.classes, { rng: rng.fork(3), dtype, name: 'head', std: 0.02 });
    this.pass = new LastPass(be, 'VisionMoE');
  }

  /** Pixels [images, 784] → one row of 16 pixels per patch, images in order. */
  private patches(pixels: F32): F32 {
    const p = this.config.patch, grid = IMAGE_SIDE / p, n = pixels.rows;
    const out = Tensor.zeros([n * this.tokensPerImage, p * p], pixels.dtype) as F32;
    for (let i = 0; i < n; i++) for (let gy = 0; gy < grid; gy++) for (let gx = 0; gx < grid; gx++) {
      const row = (i * this.tokensPerImage + gy * grid + gx) * p * p;
      for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) out.data[row + y * p + x] = pixels.data[i * IMAGE_SIDE * IMAGE_SIDE + (gy * p + y) * IMAGE_SIDE + gx * p + x]!;
    }
    return out;
  }

  /** pixels [images, 784] → logits [images, classes]. */
  async forward(pixels: F32, images = pixels.rows): Promise<F32> {
    checkImages(pixels);
    const T = this.tokensPerImage;
    const pos = Tensor.zeros([images * T], 'i32');
    for (let i = 0; i < pos.size; i++) pos.data[i] = i % T;
    return this.pass.run([], () => this.parameters(), async () => {
      let x = await ad.add(this.be, await this.patchEmbed.forward(this.patches(pixels)), await this.positions.forward(pos));
      for (const b of this.blocks) x = await b.forward(x, images);
      return this.head.forward(await ad.meanPool(await this.lnFinal.forward(x), T));
    });
  }

  /** Gradients of the last forward's logits: every parameter's accumulates. */
  async backward(dLogits: F32): Promise<void> {
    await this.pass.backward(dLogits);
  }

  moeLayers(): RoutedFeedForward[] {
    return this.blocks.map((b) => b.ffn).filter((f): f is RoutedFeedForward => 'lastRouting' in f);
  }

  auxLoss(): number {
    return this.moeLayers().reduce((s, l) => s + l.auxLoss(), 0);
  }

  parameters(): Parameter[] {
    return [...this.patchEmbed.parameters(), ...this.positions.parameters(), ...this.blocks.flatMap((b) => b.parameters()), ...this.lnFinal.parameters(), ...this.head.parameters()];
  }
}
