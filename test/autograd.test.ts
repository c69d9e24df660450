import assert from 'node:assert/strict';
import { createBackend, type Backend } from '../src/kernels/backend.js';
import * as ad from '../src/autograd/ops.js';
import { LastPass, valueAndGrads } from '../src/autograd/grad.js';
import { Tape } from '../src/autograd/tape.js';
import { Parameter } from '../src/nn/parameter.js';
import { Rng } from '../src/nn/random.js';
import { CharTransformer } from '../src/models/char-transformer.js';
import { RMSNorm } from '../src/nn/rmsnorm.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { gradcheck } from './support/gradcheck.js';
import { randInts, randn } from './support/numeric.js';

// Every differentiable op through the tape, against finite differences in float64.
describe('autograd tape (float64 finite differences)', () => {
  let be: Backend;
  before(async () => (be = await createBackend('reference')));
  const rng = new Rng(21);
  const param = (name: string, shape: number[], std = 1) => new Parameter(name, randn(rng, shape, std, 'f64'));
  /** Σ y ⊙ r as a [1] tensor on the tape: its gradient with respect to y is r. */
  const weighted = async (y: F32, r: F32) => ad.matmul(be, await ad.reshape(y, [1, y.size]), r.reshape([r.size, 1]) as F32);

  async function check(params: Parameter[], f: () => Promise<F32>): Promise<void> {
    for (const p of params) p.zeroGrad();
    await valueAndGrads(be, params, f);
    const loss = async () => (await f()).data[0]!;
    for (const p of params) await gradcheck(p.name, p.value, p.grad.data, loss, { samples: 12 });
  }

  it('matmul, biasAdd, add and scale', async () => {
    const x = param('x', [4, 5]), w = param('w', [5, 3]), b = param('b', [3]), r = randn(rng, [4, 3], 1, 'f64');
    await check([x, w, b], async () => weighted(await ad.scale(be, await ad.add(be, await ad.biasAdd(be, await ad.matmul(be, x.value, w.value), b.value), await ad.matmul(be, x.value, w.value)), 0.5), r));
  });

  it('gelu, relu and softmax', async () => {
    const x = param('x', [3, 6]), r = randn(rng, [3, 6], 1, 'f64');
    for (let i = 0; i < x.value.size; i++) if (Math.abs(x.value.data[i]!) < 1e-3) x.value.data[i] = 0.5; // off relu's kink
    await check([x], async () => weighted(await ad.softmax(be, await ad.add(be, await ad.gelu(be, x.value), await ad.relu(be, x.value))), r));
  });

  it('mul, silu and sigmoid (the SwiGLU and sigmoid-router pieces)', async () => {
    const a = param('a', [3, 5]), b = param('b', [3, 5]), r = randn(rng, [3, 5], 1, 'f64');
    await check([a, b], async () => weighted(await ad.mul(be, await ad.silu(be, a.value), await ad.sigmoid(be, b.value)), r));
  });

  it('rmsNorm and the RMSNorm layer: input and scale', async () => {
    const x = param('x', [4, 8], 2), g = param('gamma', [8]), r = randn(rng, [4, 8], 1, 'f64');
    await check([x, g], async () => weighted(await ad.rmsNorm(be, x.value, g.value, 1e-5), r));
    const norm = new RMSNorm(be, 8, { dtype: 'f64' });
    for (let i = 0; i < 8; i++) norm.gamma.value.data[i] = 0.5 + i / 8;
    await check([x, norm.gamma], async () => weighted(await norm.forward(x.value), r));
  });

  it('layerNorm: input, scale and shift', async () => {
    const x = param('x', [4, 8], 2), g = param('gamma', [8]), b = param('beta', [8]), r = randn(rng, [4, 8], 1, 'f64');
    await check([x, g, b], async () => weighted(await ad.layerNorm(be, x.value, g.value, b.value, 1e-5), r));
  });

  it('embedding (repeated ids accumulate), pickRows and meanPool', async () => {
    const table = param('table', [6, 4]), r = randn(rng, [2, 4], 1, 'f64');
    const ids = Tensor.ints([1, 3, 1, 5, 1, 0]);
    await check([table], async () => weighted(await ad.meanPool(await ad.pickRows(await ad.embedding(be, table.value, ids), [0, 2, 4, 5]), 2), r));
  });

  it('attention: scores, softmax and apply, causal and not', async () => {
    for (const causal of [true, false]) {
      const shape = { batch: 2, seq: 3, heads: 2, causal, scale: 0.5 };
      const q = param('q', [6, 4]), k = param('k', [6, 4]), v = param('v', [6, 4]), r = randn(rng, [6, 4], 1, 'f64');
      await check([q, k, v], async () => weighted(await ad.attentionApply(be, await ad.softmax(be, await ad.attentionScores(be, q.value, k.value, shape)), v.value, shape), r));
    }
  });

  it('crossEntropy: the mean over rows whose target is not ignored', async () => {
    const logits = param('logits', [5, 4]);
    const targets = Tensor.ints([0, 3, -1, 2, 1]);
    await check([logits], async () => (await ad.crossEntropy(be, logits.value, targets)).loss);
  });

  it('a whole model through one tape: valueAndGrads of a GPT-MoE (top-2, capacity dropping) reaches every parameter', async () => {
    const model = new CharTransformer(be, { vocab: 5, seq: 4, dModel: 8, heads: 2, dFF: 8, layers: 2, seed: 4, dtype: 'f64', moe: { experts: 4, topk: 2, capacityFactor: 0.75, auxCoef: 0.1 } });
    const ids = randInts(rng, [8], 5), targets = randInts(rng, [8], 5);
    const f = async () => (await ad.crossEntropy(be, await model.forward(ids, 2), targets)).loss;
    const loss = async () => (await f()).data[0]! + model.auxLoss();
    await valueAndGrads(be, model.parameters(), f);
    for (const p of model.parameters()) await gradcheck(p.name, p.value, p.grad.data, loss, { samples: 3 });
  });

  it('refuses a second backward, a non-scalar loss, and a layer backward whose forward an outer tape recorded', async () => {
    const x = param('x', [2, 2]);
    const tape = new Tape(be);
    tape.watch(x.value);
    const y = await tape.run(() => ad.scale(be, x.value, 2));
    await tape.backward([[y, y]]);
    await assert.rejects(tape.backward([[y, y]]), /already run backward/);
    await assert.rejects(valueAndGrads(be, [x], async () => x.value), /valueAndGrads: .*a scalar loss/);
    const pass = new LastPass(be, 'Mine');
    await new Tape(be).run(() => pass.run([x.value], () => [], () => ad.scale(be, x.value, 2)));
    await assert.rejects(pass.backward(x.value), /Mine.backward: called before forward \(or its forward was recorded on an outer tape\)/);
  });
});

describe('gradients sunk where they live (Tape.sink)', () => {
  it('adds a weight gradient into a resident gradient in place, as the returned gradient added after would', async () => {
    const be = await createBackend('wasm-simd');
    try {
      const { Linear } = await import('../src/nn/linear.js');
      const rng = new Rng(31);
      const layer = new Linear(be, 24, 40, { name: 'l', rng });
      const x = randn(rng, [9, 24]), r = randn(rng, [9, 40]);
      const f = async () => ad.matmul(be, await ad.reshape(await layer.forward(x), [1, 9 * 40]), r.reshape([9 * 40, 1]) as F32);
      const grad = layer.weight.grad, before = Float32Array.from(grad.data);
      // The path before sinks: the tape returns each parameter's gradient, added after.
      const tape = new Tape(be);
      tape.watch(...layer.parameters().map((p) => p.value));
      const loss = await tape.run(f);
      const returned = await tape.backward([[loss, Tensor.from([1], [1, 1])]]);
      const dw = returned.get(layer.weight.value)!;
      // Sunk: valueAndGrads adds every use's gradient into `grad` itself, twice here (the loss used twice).
      await valueAndGrads(be, layer.parameters(), async () => ad.add(be, await f(), await f()));
      assert.equal(layer.weight.grad, grad, 'the same tensor, summed where it lives');
      for (let i = 0; i < grad.size; i++) assert.ok(Math.abs(grad.data[i]! - before[i]! - 2 * dw.data[i]!) < 1e-4, `element ${i}: ${grad.data[i]} vs ${before[i]! + 2 * dw.data[i]!}`);
      // A sunk tensor's gradient is not returned as well (it would be counted twice by a caller adding both).
      const sunk = new Tape(be);
      sunk.sink(layer.weight.value, layer.weight.grad);
      const l2 = await sunk.run(f);
      assert.equal((await sunk.backward([[l2, Tensor.from([1], [1, 1])]])).has(layer.weight.value), false);
      assert.throws(() => new Tape(be).sink(layer.weight.value, Tensor.zeros([3]) as F32), /Tape\.sink: shape mismatch/);
    } finally {
      be.dispose();
    }
  });
});
