import assert from 'node:assert/strict';
import { createBackend, type Backend } from '../src/kernels/backend.js';
import { Rng } from '../src/nn/random.js';
import { Linear } from '../src/nn/linear.js';
import { ExpertFFN } from '../src/nn/ffn.js';
import { LayerNorm } from '../src/nn/layernorm.js';
import { Embedding } from '../src/nn/embedding.js';
import { CausalSelfAttention } from '../src/nn/attention.js';
import { CrossEntropyLoss } from '../src/nn/loss.js';
import { AdamW } from '../src/nn/adamw.js';
import { Parameter } from '../src/nn/parameter.js';
import { Arena } from '../src/tensor/arena.js';
import { valueAndGrads } from '../src/autograd/grad.js';
import { TransformerBlock } from '../src/models/transformer-block.js';
import { CharTransformer } from '../src/models/char-transformer.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { dot, gradcheck } from './support/gradcheck.js';
import { randInts, randn } from './support/numeric.js';

interface Layer {
  forward(x: F32): Promise<F32>;
  backward(dy: F32): Promise<F32>;
  parameters(): Parameter[];
}

/** Checks a layer's input gradient and every parameter gradient against finite differences. */
async function checkLayer(name: string, layer: Layer, x: F32, rng: Rng): Promise<void> {
  const y = await layer.forward(x);
  const r = randn(rng, [...y.shape], 1, 'f64');
  const dx = await layer.backward(r);
  const loss = async () => dot(await layer.forward(x), r);
  await gradcheck(`${name} dx`, x, dx.data, loss);
  for (const p of layer.parameters()) await gradcheck(`${name} ${p.name}`, p.value, p.grad.data, loss, { samples: 12 });
}

describe('layer gradients (float64 finite differences)', () => {
  let be: Backend;
  before(async () => (be = await createBackend('reference')));
  const rng = new Rng(5);
  const opts = () => ({ rng: rng.fork(1), dtype: 'f64' as const });

  it('Linear', async () => checkLayer('Linear', new Linear(be, 6, 4, opts()), randn(rng, [5, 6], 1, 'f64'), rng));
  it('ExpertFFN (Linear → GELU → Linear)', async () => checkLayer('ExpertFFN', new ExpertFFN(be, 6, 12, opts()), randn(rng, [5, 6], 1, 'f64'), rng));
  it('LayerNorm', async () => checkLayer('LayerNorm', new LayerNorm(be, 8, { dtype: 'f64' }), randn(rng, [3, 8], 2, 'f64'), rng));
  it('CausalSelfAttention', async () => {
    const attn = new CausalSelfAttention(be, 8, 2, opts());
    await checkLayer('Attention', { forward: (x) => attn.forward(x, 2), backward: (d) => attn.backward(d), parameters: () => attn.parameters() }, randn(rng, [6, 8], 1, 'f64'), rng);
  });
  it('TransformerBlock (residuals, norms, attention, FFN)', async () => {
    const block = new TransformerBlock(be, { dModel: 8, heads: 2, dFF: 16, layers: 1 }, { ...opts(), name: 'b' });
    await checkLayer('Block', { forward: (x) => block.forward(x, 2), backward: (d) => block.backward(d), parameters: () => block.parameters() }, randn(rng, [6, 8], 1, 'f64'), rng);
  });

  it('Embedding', async () => {
    const emb = new Embedding(be, 7, 3, { ...opts(), std: 1 });
    const ids = Tensor.ints([2, 6, 2, 0]);
    const r = randn(rng, [4, 3], 1, 'f64');
    await emb.forward(ids);
    await emb.backward(r);
    await gradcheck('Embedding table', emb.table.value, emb.table.grad.data, async () => dot(await emb.forward(ids), r));
  });

  it('CrossEntropyLoss (mean over non-ignored rows)', async () => {
    const loss = new CrossEntropyLoss(be);
    const logits = new Parameter('logits', randn(rng, [5, 4], 1, 'f64'));
    const t = Tensor.ints([0, 3, -1, 2, 1]);
    await valueAndGrads(be, [logits], async () => (await loss.forward(logits.value, t), loss.tensor));
    assert.equal(loss.count, 4);
    await gradcheck('dlogits', logits.value, logits.grad.data, () => loss.forward(logits.value, t));
  });

  it('CharTransformer end to end: logits loss → every parameter', async () => {
    const model = new CharTransformer(be, { vocab: 5, seq: 3, dModel: 8, heads: 2, dFF: 8, layers: 1, seed: 3, dtype: 'f64' });
    const ids = randInts(rng, [6], 5), targets = randInts(rng, [6], 5);
    const loss = new CrossEntropyLoss(be);
    const f = async () => loss.forward(await model.forward(ids, 2), targets);
    await valueAndGrads(be, model.parameters(), async () => (await f(), loss.tensor));
    for (const p of model.parameters()) await gradcheck(p.name, p.value, p.grad.data, f, { samples: 4 });
  });

  for (const topk of [1, 2] as const) {
    it(`GPT-MoE end to end, top-${topk} with capacity 0.75 dropping assignments: every parameter`, async () => {
      const moe = { experts: 4, topk, capacityFactor: 0.75, auxCoef: 0.1, zCoef: 0.01 };
      const model = new CharTransformer(be, { vocab: 5, seq: 4, dModel: 8, heads: 2, dFF: 8, layers: 2, seed: 4, dtype: 'f64', moe });
      const ids = randInts(rng, [8], 5), targets = randInts(rng, [8], 5);
      const loss = new CrossEntropyLoss(be);
      const f = async () => (await loss.forward(await model.forward(ids, 2), targets)) + model.auxLoss();
      await valueAndGrads(be, model.parameters(), async () => (await f(), loss.tensor));
      assert.ok(model.moeLayers().every((l) => l.lastRouting!.dropped > 0), 'capacity drops assignments in every MoE layer');
      for (const p of model.parameters()) await gradcheck(p.name, p.value, p.grad.data, f, { samples: 4 });
    });
  }
});

describe('training numerics', () => {
  it('a NaN loss stops with an error naming where it arose', async () => {
    const be = await createBackend('reference');
    const logits = Tensor.from([NaN, 0, 0, 0], [1, 4]);
    await assert.rejects(new CrossEntropyLoss(be).forward(logits, Tensor.ints([1]), 'step 7 loss'), /step 7 loss: value is NaN/);
  });

  it('AdamW clips the global gradient norm and skips decay on rank-1 parameters', async () => {
    const be = await createBackend('reference');
    const lin = new Linear(be, 2, 2, { rng: new Rng(1) });
    const before = lin.weight.value.clone();
    lin.weight.grad = Tensor.from([30, 0, 0, 40], [2, 2]);
    lin.bias!.grad = Tensor.from([0, 0], [2]);
    const opt = new AdamW(be, lin.parameters(), { lr: 0.1, clipNorm: 1, weightDecay: 0 });
    await opt.update();
    assert.equal(opt.lastGradNorm, 50);
    // After clipping, Adam's first step moves each coordinate with a nonzero gradient by ≈ lr.
    assert.ok(Math.abs(before.data[0]! - lin.weight.value.data[0]! - 0.1) < 1e-4);
    assert.equal(lin.weight.value.data[1], before.data[1]);
    assert.deepEqual(lin.bias!.value.toArray(), [0, 0]);
    assert.deepEqual(lin.weight.grad.toArray(), [0, 0, 0, 0], 'gradients are zeroed after the update');
  });
});

describe('AdamW state', () => {
  it('keeps moments per parameter object, and refuses to snapshot duplicate names', async () => {
    const be = await createBackend('reference');
    const a = new Linear(be, 2, 2, { rng: new Rng(1) }), b = new Linear(be, 2, 2, { rng: new Rng(2) }); // both named "linear"
    const opt = new AdamW(be, [...a.parameters(), ...b.parameters()], { lr: 0.1 });
    a.weight.grad = Tensor.from([1, 1, 1, 1], [2, 2]);
    await opt.update();
    assert.notDeepEqual(opt.moments(a.weight).m.toArray(), opt.moments(b.weight).m.toArray());
    assert.throws(() => opt.snapshot(), /two parameters are named "linear.weight"; give their layers distinct names/);
  });
});

describe('gradients and moments outlive a step run in an arena', () => {
  it('accumulate adds in place and names the parameter on a wrong shape', () => {
    const p = new Parameter('w', Tensor.from([1, 2, 3, 4], [2, 2]) as F32);
    const storage = p.grad.data;
    p.accumulate(Tensor.from([1, 1, 1, 1], [2, 2]));
    p.accumulate(Tensor.from([0.5, 0, 0, 2], [2, 2]));
    assert.equal(p.grad.data, storage, 'same storage');
    assert.deepEqual(Array.from(p.grad.data), [1.5, 1, 1, 3]);
    assert.throws(() => p.accumulate(Tensor.from([1, 2, 3], [3])), /w gradient: shape mismatch/);
  });

  it('Adam moments made inside an arena survive its reset', async () => {
    const be = await createBackend('reference');
    try {
      const p = new Parameter('w', Tensor.from([1, 2], [2]) as F32);
      const opt = new AdamW(be, [p], { lr: 0.1 });
      const arena = new Arena();
      await arena.run(async () => {
        p.accumulate(Tensor.from([1, 1], [2]));
        await opt.update();
      });
      const { m, v } = opt.moments(p);
      const before = [...m.data, ...v.data];
      arena.reset();
      await arena.run(async () => {
        for (let i = 0; i < 8; i++) Tensor.zeros([2]).data.fill(99); // takes every recycled buffer
      });
      assert.deepEqual([...m.data, ...v.data], before, 'the moments are untouched');
      assert.ok(before.every((x) => x !== 0));
    } finally {
      be.dispose();
    }
  });
});
