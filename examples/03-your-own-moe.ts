// %% [markdown]
// # Compose your own MoE model from flexmoe's classes
//
// A model is a class: layers in fields, a `forward` written with autograd ops, and no backward (a
// tape records the forward and replays it backwards). Here a Mixtral-style decoder
// (examples/mixtral.ts: RMSNorm, causal attention, an MoE of SwiGLU experts behind a top-2 gate).
// We train it in this process, then on two device threads where its gates and experts are actors
// that FlexMoE places, then serve the checkpoint; then swap in an expert and a gate of our own.
// Run it: `npx tsx examples/03-your-own-moe.ts` (set FLEXMOE_QUICK=1 for a short run).

// %%
import { AdamW, CharCorpus, CrossEntropyLoss, Rng, createBackend, loadModel, mobyDick, trainDistributed, valueAndGrads, clusterA100 } from 'flexmoe';
import { Mixtral, type MixtralConfig } from './mixtral.js';

const quick = process.env.FLEXMOE_QUICK === '1';
const corpus = new CharCorpus(mobyDick().slice(0, 200_000));
const config: MixtralConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, layers: 2, dFF: 48, seed: 42, moe: { experts: 4, topk: 2, auxCoef: 0.01 } };
const batchSize = 8;
const steps = quick ? 20 : 200;

// %% [markdown]
// One process. `valueAndGrads` runs the loss on a fresh tape and fills every parameter's gradient;
// the routers' auxiliary losses are on the tape too.

// %%
const be = await createBackend('wasm-simd');
const model = new Mixtral(be, config);
const opt = new AdamW(be, model.parameters(), { lr: 5e-3, clipNorm: 1 });
const loss = new CrossEntropyLoss(be);
const data = new Rng(7);
const losses: number[] = [];
for (let step = 0; step < steps; step++) {
  const { inputs, targets } = corpus.sample(data, batchSize, config.seq);
  losses.push(await valueAndGrads(be, model.parameters(), async () => (await loss.forward(await model.forward(inputs, batchSize), targets), loss.tensor)));
  await opt.update();
}
console.log(`loss ${losses[0]!.toFixed(3)} → ${losses.at(-1)!.toFixed(3)}, router aux loss ${model.auxLoss().toFixed(4)}`);
console.log('tokens per expert in the last batch, per layer:', model.moeLayers().map((l) => Array.from(l.lastRouting!.counts).join(' ')).join(' | '));
be.dispose();

// %% [markdown]
// The same model on two devices, rebalanced by FlexMoE. examples/mixtral.ts registers it as the
// task `mixtral`; every device imports that module and builds the dense parts, while each MoE
// layer's gate is a `Gate` actor on every device and each expert an `Expert` actor placed by the
// scheduler. The checkpoint records the task, its config and the module.

// %%
const modules = ['mixtral.ts'];
const ckpt = `${process.env.TMPDIR ?? '/tmp'}/flexmoe-mixtral-example.ckpt`;
const profile = { ...clusterA100, devicesPerNode: 2, expertTflops: 0.002, denseTflops: 0.002, intraNodeGBps: 3, dModel: 32, dFF: 48 };
const history = await trainDistributed({
  task: 'mixtral', modules, config: { ...config, moe: { ...config.moe, routerSkew: 2 } }, devices: 2, steps: quick ? 10 : 60, batch: batchSize, lr: 5e-3,
  corpusChars: 200_000, slots: 3, policy: 'flexmoe', profile, checkpoint: ckpt,
  onRebalance: (r) => console.log(`after step ${r.step}, layer ${r.layer}: expert replicas ${JSON.stringify(r.replicas)}`),
});
console.log(`on 2 devices: loss ${history[0]!.loss.toFixed(3)} → ${history.at(-1)!.loss.toFixed(3)}, placement version ${history.at(-1)!.placementVersion}`);

// %% [markdown]
// Serve it: `loadModel` imports the module the checkpoint names, on every device, and rebuilds the model.

// %%
const served = await loadModel(ckpt, { devices: 2 });
console.log('sample:', JSON.stringify(await served.generate('Call me Ishmael. ', { maxTokens: 40, seed: 1 })));
await served.close();

// %% [markdown]
// An expert and a gate of your own (examples/own-parts.ts): `class SquaredReLUExpert extends Expert`
// and `class SharpSoftmaxGate extends Gate`, registered by name. Name them in the MoE options and
// list their module: they are placed, cloned and moved like the built-ins.

// %%
const own = await trainDistributed({
  task: 'mixtral', modules: [...modules, 'own-parts.ts'], devices: 2, steps: quick ? 6 : 40, batch: batchSize, lr: 5e-3, corpusChars: 200_000,
  config: { ...config, moe: { experts: 4, topk: 2, expert: 'squared-relu', kind: 'sharp-softmax' } }, replicas: [[0, 1], [1], [0], [1]],
});
console.log(`squared-ReLU experts, sharp-softmax gate: loss ${own[0]!.loss.toFixed(3)} → ${own.at(-1)!.loss.toFixed(3)}`);
export { losses };
