// The model of examples/03-your-own-moe.ts: embeddings → a dense block → an MoE block → head, with
// the MoE layer made by whoever builds the model. In one process that is a `MoELayer`; on devices
// it is what the trainer's `makeMoE` gives: a layer whose gate and experts are actors. Registered
// as the task "my-moe", so `trainDistributed({ task: 'my-moe', modules: [this file] })` trains it.
import { Embedding, LayerNorm, Linear, MoELayer, Rng, Tensor, TransformerBlock, CharCorpus, mobyDick, registerTask } from '../src/index.js';
import type { Backend, CharTransformerConfig, F32, I32, MakeMoE, Parameter, TaskModel } from '../src/index.js';

export class MyMoE implements TaskModel {
  readonly tokens: Embedding;
  readonly positions: Embedding;
  readonly dense: TransformerBlock;
  readonly moe: ReturnType<MakeMoE>;
  readonly sparse: TransformerBlock;
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(private readonly be: Backend, readonly config: CharTransformerConfig, makeMoE?: MakeMoE) {
    const { dModel: d, seq, vocab } = config;
    const rng = new Rng(config.seed);
    this.tokens = new Embedding(be, vocab, d, { rng: rng.fork(1), name: 'tokens' });
    this.positions = new Embedding(be, seq, d, { rng: rng.fork(2), name: 'positions' });
    this.dense = new TransformerBlock(be, { dModel: d, heads: 2, dFF: 4 * d, layers: 2 }, { rng: rng.fork(3), name: 'dense' });
    const opts = { ...config.moe!, dFF: config.dFF, rng: rng.fork(4), name: 'moe', outStd: 1 / Math.sqrt(config.dFF) };
    this.moe = makeMoE ? makeMoE(0, opts) : new MoELayer(be, d, opts);
    this.sparse = new TransformerBlock(be, { dModel: d, heads: 2, dFF: config.dFF, layers: 2 }, { rng: rng.fork(5), name: 'sparse', ffn: () => this.moe });
    this.norm = new LayerNorm(be, d, { name: 'norm' });
    this.head = new Linear(be, d, vocab, { rng: rng.fork(6), std: 0.02, name: 'head' });
  }

  async forward(ids: Tensor, batch: number): Promise<F32> {
    const seq = this.config.seq;
    const pos = Tensor.ints(Array.from({ length: ids.size }, (_, i) => i % seq));
    let x = await this.be.ops.add(await this.tokens.forward(ids as I32), await this.positions.forward(pos));
    x = await this.sparse.forward(await this.dense.forward(x, batch), batch);
    return this.head.forward(await this.norm.forward(x));
  }

  async backward(dLogits: F32): Promise<void> {
    const g = await this.dense.backward(await this.sparse.backward(await this.norm.backward(await this.head.backward(dLogits))));
    await this.tokens.backward(g);
    await this.positions.backward(g);
  }

  moeLayers() {
    return [this.moe];
  }

  auxLoss(): number {
    return this.moe.auxLoss();
  }

  parameters(): Parameter[] {
    return [this.tokens, this.positions, this.dense, this.sparse, this.norm, this.head].flatMap((m) => m.parameters());
  }
}

registerTask('my-moe', (spec) => {
  const config = spec.config as CharTransformerConfig;
  const corpus = new CharCorpus(mobyDick().slice(0, spec.corpusChars || undefined));
  const full = { ...config, vocab: corpus.vocab.size };
  return {
    name: 'my-moe', inputWidth: config.seq, targetWidth: config.seq, config: full, corpus,
    build: (be, makeMoE) => new MyMoE(be, full, makeMoE),
    sample: (rng, batch, split) => corpus.sample(rng, batch, config.seq, split),
  };
});
