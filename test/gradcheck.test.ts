import { createBackend, type Backend } from '../src/kernels/backend.js';
import { Rng } from '../src/nn/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { dot, gradcheck } from './support/gradcheck.js';
import { randInts, randn } from './support/numeric.js';

// Every differentiable kernel: its backward against finite differences of its forward, in float64.
describe('kernel gradients (float64 finite differences, reference backend)', () => {
  let be: Backend;
  before(async () => (be = await createBackend('reference')));
  const rng = new Rng(3);
  const f64 = (shape: number[], std = 1) => randn(rng, shape, std, 'f64');

  it('matmul: nt and tn are the gradients of nn', async () => {
    const x = f64([5, 7]), w = f64([7, 3]), r = f64([5, 3]);
    const loss = async () => dot(await be.ops.matmul(x, w, 'nn'), r);
    await gradcheck('dX', x, (await be.ops.matmul(r, w, 'nt')).data, loss);
    await gradcheck('dW', w, (await be.ops.matmul(x, r, 'tn')).data, loss);
  });

  it('biasAdd: colSum is its bias gradient', async () => {
    const x = f64([4, 6]), b = f64([6]), r = f64([4, 6]);
    await gradcheck('db', b, (await be.ops.colSum(r)).data, async () => dot(await be.ops.biasAdd(x, b), r));
  });

  for (const act of ['relu', 'gelu'] as const) {
    it(`${act}`, async () => {
      const x = f64([3, 8]), r = f64([3, 8]);
      for (let i = 0; i < x.size; i++) if (Math.abs(x.data[i]!) < 1e-3) x.data[i] = 0.5; // keep away from relu's kink
      await gradcheck(`d${act}`, x, (await be.ops[`${act}Backward`](x, r)).data, async () => dot(await be.ops[act](x), r));
    });
  }

  it('silu', async () => {
    const x = f64([3, 8]), r = f64([3, 8]);
    await gradcheck('dsilu', x, (await be.ops.siluBackward(x, r)).data, async () => dot(await be.ops.silu(x), r));
  });

  it('rmsNorm: x and gamma', async () => {
    const x = f64([4, 10], 2), g = f64([10]), r = f64([4, 10]);
    const f = await be.ops.rmsNorm(x, g, 1e-5);
    const grads = await be.ops.rmsNormBackward(x, g, f.rstd, r);
    const loss = async () => dot((await be.ops.rmsNorm(x, g, 1e-5)).y, r);
    await gradcheck('dx', x, grads.dx.data, loss);
    await gradcheck('dgamma', g, grads.dgamma.data, loss);
  });

  it('softmax', async () => {
    const x = f64([3, 9]), r = f64([3, 9]);
    const y = await be.ops.softmax(x);
    await gradcheck('dsoftmax', x, (await be.ops.softmaxBackward(y, r)).data, async () => dot(await be.ops.softmax(x), r));
  });

  it('layerNorm: x, gamma and beta', async () => {
    const x = f64([4, 10], 2), g = f64([10]), b = f64([10]), r = f64([4, 10]);
    const f = await be.ops.layerNorm(x, g, b, 1e-5);
    const grads = await be.ops.layerNormBackward(x, g, f.mean, f.rstd, r);
    const loss = async () => dot((await be.ops.layerNorm(x, g, b, 1e-5)).y, r);
    await gradcheck('dx', x, grads.dx.data, loss);
    await gradcheck('dgamma', g, grads.dgamma.data, loss);
    await gradcheck('dbeta', b, grads.dbeta.data, loss);
  });

  it('embedding: scatter-add is the gradient of gather (repeated ids accumulate)', async () => {
    const table = f64([6, 4]), ids = Tensor.ints([1, 3, 1, 5, 1]), r = f64([5, 4]);
    await gradcheck('dtable', table, (await be.ops.embeddingBackward(ids, r, 6)).data, async () => dot(await be.ops.embedding(table, ids), r));
  });

  it('crossEntropy: (p − onehot)/N, ignored targets contribute nothing', async () => {
    const logits = f64([6, 5]), t = randInts(rng, [6], 5);
    t.data[2] = -1;
    const mean = async () => { const { loss } = await be.ops.crossEntropy(logits, t); let s = 0; for (const v of loss.data) s += v; return s / 5; };
    const { probs } = await be.ops.crossEntropy(logits, t);
    await gradcheck('dlogits', logits, (await be.ops.crossEntropyBackward(probs, t, 1 / 5)).data, mean);
  });

  it('topk: the gradient flows only to the selected entries', async () => {
    const x = f64([4, 6]), r = f64([4, 2]);
    const { indices } = await be.ops.topk(x, 2);
    await gradcheck('dx', x, (await be.ops.topkBackward(indices, r, 6)).data, async () => dot((await be.ops.topk(x, 2)).values, r));
  });

  it('attention: scores, apply and applyT compose into the attention gradient', async () => {
    const s = { batch: 2, seq: 4, heads: 2, causal: true, scale: 0.5 };
    const q = f64([8, 6]), k = f64([8, 6]), v = f64([8, 6]), r = f64([8, 6]);
    const forward = async () => be.ops.attentionApply(await be.ops.softmax(await be.ops.attentionScores(q, k, s)), v, s);
    const p = await be.ops.softmax(await be.ops.attentionScores(q, k, s));
    const dS = await be.ops.softmaxBackward(p, await be.ops.attentionScores(r, v, { ...s, causal: false, scale: 1 }));
    const loss = async () => dot(await forward(), r);
    await gradcheck('dq', q, (await be.ops.scale(await be.ops.attentionApply(dS, k, s), s.scale)).data, loss);
    await gradcheck('dk', k, (await be.ops.scale(await be.ops.attentionApplyT(dS, q, s), s.scale)).data, loss);
    await gradcheck('dv', v, (await be.ops.attentionApplyT(p, r, s)).data, loss);
  });

  it('adamw matches a hand-computed first step', async () => {
    const p = Tensor.from([1, -2], [2]), g = Tensor.from([0.5, -1], [2]), m = Tensor.zeros([2]), v = Tensor.zeros([2]);
    await be.ops.adamw(p, g, m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 0, weightDecay: 0.5, step: 1, gradScale: 1 });
    // step 1: m̂ = g, v̂ = g², so the update is lr·(sign(g) + wd·p).
    const expected = [1 - 0.1 * (1 + 0.5), -2 - 0.1 * (-1 + 0.5 * -2)];
    for (let i = 0; i < 2; i++) if (Math.abs(p.data[i]! - expected[i]!) > 1e-6) throw new Error(`p[${i}] = ${p.data[i]} ≠ ${expected[i]}`);
  });
});

