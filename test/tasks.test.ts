import assert from 'node:assert/strict';
import { createBackend } from '../src/kernels/backend.js';
import { knownTasks, makeTask, MASK, registerTask, type Task } from '../src/models/tasks.js';
import { VisionMoE } from '../src/models/vision-moe.js';
import { CharTransformer } from '../src/models/char-transformer.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { trainDistributed } from '../src/train/distributed.js';

describe('BERT-MoE and vision MoE', function () {
  this.timeout(240_000);

  it('BERT-MoE masks about 15% of characters and learns to fill them in', async () => {
    const task = makeTask({ task: 'bert-moe', config: { vocab: 0, seq: 32, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 1, moe: { experts: 4, topk: 2 } }, corpusChars: 50_000 });
    const { inputs, targets } = task.sample(new Rng(1), 64, 'train');
    const scored = targets.data.filter((t) => t >= 0).length;
    assert.ok(Math.abs(scored / targets.size - 0.15) < 0.03, `${scored} of ${targets.size} scored`);
    const mask = task.corpus!.vocab.encode(MASK).data[0]!;
    const masked = inputs.data.filter((t) => t === mask).length;
    assert.ok(masked > 0.6 * scored && masked < scored, 'most scored positions are masked');
    const vocab = task.corpus!.vocab.size;
    const h = await trainDistributed({ task: 'bert-moe', devices: 2, config: { vocab, seq: 32, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 1, moe: { experts: 4, topk: 2 } }, steps: 40, batch: 8, lr: 5e-3, corpusChars: 50_000 });
    assert.ok(h.at(-1)!.loss < h[0]!.loss - 0.6, `${h[0]!.loss} → ${h.at(-1)!.loss}`);
  });

  it('vision MoE on MNIST: the loss falls', async () => {
    const h = await trainDistributed({ task: 'vision-moe', devices: 2, config: { patch: 4, dModel: 32, heads: 2, dFF: 64, layers: 1, classes: 10, seed: 1, moe: { experts: 4, topk: 2 } }, steps: 80, batch: 16, lr: 1e-2, imagesPerDigit: 200 });
    const first = h.slice(0, 5).reduce((a, s) => a + s.loss, 0) / 5, last = h.slice(-10).reduce((a, s) => a + s.loss, 0) / 10;
    assert.ok(last < first - 0.2, `${first.toFixed(3)} → ${last.toFixed(3)}`);
  });

  it('images of the wrong size, NaN pixels and token ids outside the vocabulary are named', async () => {
    const be = await createBackend('reference');
    const vision = new VisionMoE(be, { patch: 4, dModel: 8, heads: 2, dFF: 8, layers: 1, classes: 10, seed: 1, moe: { experts: 2, topk: 1 } });
    await assert.rejects(vision.forward(Tensor.zeros([2, 100]) as F32), /vision-moe: bad shape \[2,100\], expected \[images, 784\]/);
    const nan = Tensor.zeros([1, 784]) as F32;
    nan.data[5] = NaN;
    await assert.rejects(vision.forward(nan), /image 0, pixel 5: value is NaN/);
    const gpt = new CharTransformer(be, { vocab: 5, seq: 2, dModel: 8, heads: 2, dFF: 8, layers: 1, seed: 1 });
    await assert.rejects(gpt.forward(Tensor.ints([1, 7]), 1), /CharTransformer.forward: index 7 at position 1 is outside \[0, 5\)/);
    await assert.rejects(trainDistributed({ task: 'vision-moe', devices: 3, config: { patch: 4, dModel: 8, heads: 2, dFF: 8, layers: 1, classes: 10, seed: 1, moe: { experts: 2, topk: 1 } }, steps: 1, batch: 6, lr: 1e-3 }), /3 devices for 2 experts: every device needs at least one expert/);
    await assert.rejects(trainDistributed({ task: 'llama' as never, devices: 1, config: { patch: 4, dModel: 8, heads: 2, dFF: 8, layers: 1, classes: 10, seed: 1, moe: { experts: 2, topk: 1 } }, steps: 1, batch: 2, lr: 1e-3 }), /unknown model "llama"; known: gpt-moe, bert-moe, vision-moe/);
  });

  it('registerTask adds a model by name; a second registration replaces it; built-in names are refused', () => {
    const fake = (name: string) => (): Task => ({ name, inputWidth: 1, targetWidth: 1, config: {} as Task['config'], build: () => { throw new Error('unused'); }, sample: () => { throw new Error('unused'); } });
    registerTask('probe-model', fake('first'));
    registerTask('probe-model', fake('second'));
    assert.equal(makeTask({ task: 'probe-model', config: {} as Task['config'] }).name, 'second');
    assert.ok(knownTasks().includes('probe-model'));
    assert.throws(() => registerTask('gpt-moe', fake('x')), /registerTask: "gpt-moe" is a built-in model/);
    assert.throws(() => makeTask({ task: 'nope', config: {} as Task['config'] }), /unknown model "nope"; known: gpt-moe, bert-moe, vision-moe, .*probe-model/);
  });
});
