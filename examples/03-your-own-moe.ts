// %% [markdown]
// # Build your own MoE model from flexmoe's pieces
//
// A model is layers composed in plain TypeScript: here a two-block transformer whose first block has
// a dense FFN and whose second has a Mixture-of-Experts FFN with a router of our choosing. Then an
// actor of our own, hosted on a device thread, that answers questions about expert load.
// Run it: `npx tsx examples/03-your-own-moe.ts` (set FLEXMOE_QUICK=1 for a short run).

// %%
import { createBackend, Embedding, LayerNorm, Linear, CrossEntropyLoss, AdamW, Rng, Tensor, TransformerBlock, MoELayer, CharCorpus, mobyDick } from '../src/index.js';
import type { F32, I32, Parameter } from '../src/index.js';

const quick = process.env.FLEXMOE_QUICK === '1';
const be = await createBackend('gpujs-webasm');
const corpus = new CharCorpus(mobyDick().slice(0, 200_000));
const rng = new Rng(42);
const d = 32, seq = 16, batch = 8;

// %% [markdown]
// The model: embeddings → dense block → MoE block (8 experts, top-1, Switch-style aux loss) → head.
// `TransformerBlock` takes any feed-forward part with `forward`, `backward` and `parameters`.

// %%
class MyMoE {
  tokens = new Embedding(be, corpus.vocab.size, d, { rng: rng.fork(1), name: 'tokens' });
  positions = new Embedding(be, seq, d, { rng: rng.fork(2), name: 'positions' });
  dense = new TransformerBlock(be, { dModel: d, heads: 2, dFF: 4 * d, layers: 2 }, { rng: rng.fork(3), name: 'dense' });
  moe = new MoELayer(be, d, { experts: 8, topk: 1, dFF: 2 * d, auxCoef: 0.01, rng: rng.fork(4), name: 'moe' });
  sparse = new TransformerBlock(be, { dModel: d, heads: 2, dFF: 2 * d, layers: 2 }, { rng: rng.fork(5), name: 'sparse', ffn: () => this.moe });
  norm = new LayerNorm(be, d, { name: 'norm' });
  head = new Linear(be, d, corpus.vocab.size, { rng: rng.fork(6), std: 0.02, name: 'head' });

  async forward(ids: I32): Promise<F32> {
    const pos = Tensor.ints(Array.from({ length: ids.size }, (_, i) => i % seq));
    let x = await be.ops.add(await this.tokens.forward(ids), await this.positions.forward(pos));
    x = await this.sparse.forward(await this.dense.forward(x, batch), batch);
    return this.head.forward(await this.norm.forward(x));
  }

  async backward(dLogits: F32): Promise<void> {
    const g = await this.dense.backward(await this.sparse.backward(await this.norm.backward(await this.head.backward(dLogits))));
    await this.tokens.backward(g);
    await this.positions.backward(g);
  }

  parameters(): Parameter[] {
    return [this.tokens, this.positions, this.dense, this.sparse, this.norm, this.head].flatMap((m) => m.parameters());
  }
}

// %% [markdown]
// Train it briefly. The training loss is cross-entropy plus the router's auxiliary loss.

// %%
const model = new MyMoE();
const opt = new AdamW(be, model.parameters(), { lr: 5e-3, clipNorm: 1 });
const loss = new CrossEntropyLoss(be);
const data = new Rng(7);
const losses: number[] = [];
for (let step = 0; step < (quick ? 30 : 200); step++) {
  const { inputs, targets } = corpus.sample(data, batch, seq);
  losses.push(await loss.forward(await model.forward(inputs), targets));
  await model.backward(await loss.backward());
  await opt.update();
}
console.log(`loss ${losses[0]!.toFixed(3)} → ${losses.at(-1)!.toFixed(3)}, router aux loss ${model.moe.auxLoss().toFixed(4)}`);
console.log('tokens per expert in the last batch:', Array.from(model.moe.lastRouting!.counts).join(' '));

// %% [markdown]
// An actor of your own: subclass `Actor`, register it, list its module when starting the system,
// and it runs on a device thread. Its state must survive `snapshot` → `restore` (here: plain data),
// so the runtime can migrate it or rebuild it after a crash.

// %%
import { ActorSystem } from '../src/index.js';
import { LoadBook } from './load-book.js';

const system = await ActorSystem.start({ devices: 2, modules: [new URL('./load-book.ts', import.meta.url)] });
const book = await system.spawn(LoadBook, {}, { device: 1 });
system.tell(book, { counts: Array.from(model.moe.lastRouting!.counts) });
const moved = await system.migrate(book, 0);
console.log('hottest expert so far:', await system.ask(book, { hottest: true }), `(the book now lives on device ${moved.device})`);
await system.stop();
be.dispose();
export { losses };
