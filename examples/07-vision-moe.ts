// %% [markdown]
// # A vision MoE on MNIST
//
// 28×28 digits cut into 4×4 patches (49 tokens), a transformer block whose FFN is a Mixture of
// Experts, mean pooling, ten classes; trained on 2 devices.

// %%
import { Trainer, display, lineChart } from 'flexmoe';
import type { VisionMoEConfig } from 'flexmoe';

const quick = process.env.FLEXMOE_QUICK === '1';
const config: VisionMoEConfig = { patch: 4, dModel: 32, heads: 2, dFF: 64, layers: 1, classes: 10, seed: 1, moe: { experts: 4, topk: 2 } };
const trainer = new Trainer({ task: 'vision-moe', config, devices: 2, batch: 16, lr: 1e-2, imagesPerDigit: quick ? 100 : undefined });
const history = await trainer.fit({ steps: quick ? 20 : 200, evalEvery: quick ? 10 : 50 });

// %%
display(lineChart({ title: 'vision MoE loss', series: [{ name: 'train', values: history.map((s) => s.loss) }, { name: 'held-out', values: history.map((s) => s.evalLoss ?? NaN) }], xLabel: 'step' }));
console.log(`loss ${history[0]!.loss.toFixed(3)} → ${history.at(-1)!.loss.toFixed(3)}, held-out ${history.at(-1)!.evalLoss!.toFixed(3)}`);
