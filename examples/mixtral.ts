// A Mixtral-style decoder composed from flexmoe's classes: RMSNorm, causal attention, and a
// Mixture-of-Experts of SwiGLU experts behind a softmax top-2 gate, in every block. Positions are
// learned embeddings (flexmoe has no rotary embeddings yet). Registered as the task "mixtral", so
// trainers, checkpoints and `loadModel` can build it on any device that loads this module.
import { ad, Model, Tensor, languageTask, registerTask } from 'flexmoe';
import type { Backend, F32, I32, LanguageConfig, MakeMoE, MoELayerOptions } from 'flexmoe';

export interface MixtralConfig extends LanguageConfig { heads: number; layers: number; dFF: number; moe: Omit<MoELayerOptions, 'dFF'> }

export class Mixtral extends Model<MixtralConfig> {
  readonly tokens = this.embedding('tokens', this.config.vocab, this.config.dModel);
  readonly positions = this.embedding('positions', this.config.seq, this.config.dModel);
  readonly blocks = Array.from({ length: this.config.layers }, (_, i) => ({
    attnNorm: this.rmsNorm(`block${i}.attnNorm`, this.config.dModel),
    attn: this.attention(`block${i}.attn`, this.config.dModel, this.config.heads),
    moeNorm: this.rmsNorm(`block${i}.moeNorm`, this.config.dModel),
    moe: this.moeLayer(`block${i}.moe`, { expert: 'swiglu', ...this.config.moe, dModel: this.config.dModel, dFF: this.config.dFF }),
  }));
  readonly norm = this.rmsNorm('norm', this.config.dModel);
  readonly head = this.linear('head', this.config.dModel, this.config.vocab, { bias: false, std: 0.02 });

  async forward(ids: Tensor, batch: number): Promise<F32> {
    const be = this.be, seq = this.config.seq;
    const pos = Tensor.ints(Array.from({ length: ids.size }, (_, i) => i % seq));
    let x = await ad.add(be, await this.tokens.forward(ids as I32), await this.positions.forward(pos));
    for (const b of this.blocks) {
      x = await ad.add(be, x, await b.attn.forward(await b.attnNorm.forward(x), batch));
      x = await ad.add(be, x, await b.moe.forward(await b.moeNorm.forward(x)));
    }
    return this.head.forward(await this.norm.forward(x));
  }
}

registerTask('mixtral', languageTask((be: Backend, config: MixtralConfig, makeMoE?: MakeMoE) => new Mixtral(be, config, makeMoE)));
