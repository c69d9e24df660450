// %% [markdown]
// # Build your own MoE model from flexmoe's pieces
//
// A model is layers composed in plain TypeScript: here a two-block transformer whose first block has
// a dense FFN and whose second has a Mixture-of-Experts FFN (examples/my-moe.ts). We train it in one
// process, then on two device threads where its router and experts are actors that the runtime
// clones and moves, and finally write an actor of our own.
// Run it: `npx tsx examples/03-your-own-moe.ts` (set FLEXMOE_QUICK=1 for a short run).

// %%
import { createBackend, CrossEntropyLoss, AdamW, Rng, CharCorpus, mobyDick, trainDistributed, clusterA100 } from '../src/index.js';
import type { CharTransformerConfig } from '../src/index.js';
import { MyMoE } from './my-moe.js';

const quick = process.env.FLEXMOE_QUICK === '1';
const corpus = new CharCorpus(mobyDick().slice(0, 200_000));
const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 42, moe: { experts: 8, topk: 1, auxCoef: 0.01 } };
const batch = 8, steps = quick ? 30 : 200;

// %% [markdown]
// The model (examples/my-moe.ts): embeddings → dense block → MoE block (8 experts, top-1,
// Switch-style aux loss) → head. `TransformerBlock` takes any feed-forward part with `forward`,
// `backward` and `parameters`; the MoE layer comes from `makeMoE` when a trainer provides one,
// else it is a one-process `MoELayer`. Train it briefly in this process; the training loss is
// cross-entropy plus the router's auxiliary loss.

// %%
const be = await createBackend('wasm-simd');
const model = new MyMoE(be, config);
const opt = new AdamW(be, model.parameters(), { lr: 5e-3, clipNorm: 1 });
const loss = new CrossEntropyLoss(be);
const data = new Rng(7);
const losses: number[] = [];
for (let step = 0; step < steps; step++) {
  const { inputs, targets } = corpus.sample(data, batch, config.seq);
  losses.push(await loss.forward(await model.forward(inputs, batch), targets));
  await model.backward(await loss.backward());
  await opt.update();
}
console.log(`loss ${losses[0]!.toFixed(3)} → ${losses.at(-1)!.toFixed(3)}, router aux loss ${model.auxLoss().toFixed(4)}`);
console.log('tokens per expert in the last batch:', Array.from(model.moe.lastRouting!.counts).join(' '));
be.dispose();

// %% [markdown]
// The same model on two devices. `examples/my-moe.ts` registers it as the task `my-moe`; every
// device imports that module, builds the dense parts, and gets its MoE layer from the trainer's
// `makeMoE`: the layer's router is a `Gate` actor (one replica per device) and each expert an
// `Expert` actor that owns its weights and Adam moments. A placement policy of our own
// (examples/hottest-everywhere.ts) copies the hottest expert onto every device after the first
// step; the runtime carries that out by cloning the expert actor, its state going device to device
// over the shared-memory channel.

// %%
import { hottestEverywhere } from './hottest-everywhere.js';

const history = await trainDistributed({
  task: 'my-moe', modules: [new URL('./my-moe.ts', import.meta.url)], config, devices: 2, steps: quick ? 6 : 40, batch, lr: 5e-3,
  corpusChars: 200_000, slots: 5, policy: () => hottestEverywhere, profile: clusterA100,
  onRebalance: (r) => console.log(`after step ${r.step}: expert replicas ${JSON.stringify(r.replicas)}; actors cloned ${r.moves!.cloned}, migrated ${r.moves!.migrated}, stopped ${r.moves!.stopped}`),
});
console.log(`on 2 devices: loss ${history[0]!.loss.toFixed(3)} → ${history.at(-1)!.loss.toFixed(3)}, placement version ${history.at(-1)!.placementVersion}`);

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
export { losses };
