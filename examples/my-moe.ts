// A small model of your own: embeddings → a dense transformer block → a transformer block whose
// FFN is an MoE layer → head, written forward only on the `Model` base. In one process its MoE
// layer is a `MoELayer`; on devices it is the layer the trainer hands in, whose gate and experts are
// actors. Registered as the task "my-moe", so `trainDistributed({ task: 'my-moe', modules: [this
// file] })` and `flexmoe train --module examples/my-moe.ts --model my-moe` train it.
import { ad, languageTask, Model, registerTask, Tensor, TransformerBlock } from 'flexmoe';
import type { CharTransformerConfig, F32, I32 } from 'flexmoe';

export class MyMoE extends Model<CharTransformerConfig> {
  readonly tokens = this.embedding('tokens', this.config.vocab, this.config.dModel);
  readonly positions = this.embedding('positions', this.config.seq, this.config.dModel);
  readonly dense = this.own(new TransformerBlock(this.be, { ...this.config, dFF: 4 * this.config.dModel }, { rng: this.nextRng(), dtype: this.config.dtype, name: 'dense' }));
  readonly moe = this.moeLayer('moe', { ...this.config.moe!, dModel: this.config.dModel, dFF: this.config.dFF, outStd: 1 / Math.sqrt(this.config.dFF) });
  readonly sparse = this.own(new TransformerBlock(this.be, this.config, { rng: this.nextRng(), dtype: this.config.dtype, name: 'sparse', ffn: () => this.moe }));
  readonly norm = this.layerNorm('norm', this.config.dModel);
  readonly head = this.linear('head', this.config.dModel, this.config.vocab, { std: 0.02 });

  async forward(ids: Tensor, batch: number): Promise<F32> {
    const seq = this.config.seq;
    const pos = Tensor.ints(Array.from({ length: ids.size }, (_, i) => i % seq));
    let x = await ad.add(this.be, await this.tokens.forward(ids as I32), await this.positions.forward(pos));
    x = await this.sparse.forward(await this.dense.forward(x, batch), batch);
    return this.head.forward(await this.norm.forward(x));
  }
}

registerTask('my-moe', languageTask((be, config: CharTransformerConfig, makeMoE) => new MyMoE(be, config, makeMoE)));
