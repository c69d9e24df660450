import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, type Backend } from '../src/kernels/backend.js';
import * as ad from '../src/autograd/ops.js';
import { valueAndGrads } from '../src/autograd/grad.js';
import { Tape, untaped } from '../src/autograd/tape.js';
import { MoELayer } from '../src/moe/moe-layer.js';
import { Rng } from '../src/nn/random.js';
import { balanceRatio } from '../src/sched/placement.js';
import { clusterA100 } from '../src/sched/cost.js';
import { trainDistributed } from '../src/train/distributed.js';
import { loadModel } from '../src/serve/load.js';
import { Placement, type Policy } from '../src/index.js';
import { Mixtral, type MixtralConfig } from '../examples/mixtral.js';
import '../examples/own-parts.js';
import { dot, gradcheck } from './support/gradcheck.js';
import { randInts, randn } from './support/numeric.js';

describe('models composed from classes: gradients through the tape (float64)', () => {
  let be: Backend;
  before(async () => (be = await createBackend('reference')));

  for (const moe of [{ experts: 4, topk: 2, capacityFactor: 0.75, auxCoef: 0.1 }, { experts: 4, topk: 2, expert: 'squared-relu', kind: 'sharp-softmax' }, { experts: 4, topk: 1, kind: 'sigmoid', biasRate: 0 }]) {
    it(`a whole Mixtral-style model (RMSNorm, attention, MoE), ${JSON.stringify(moe)}: every parameter`, async () => {
      const config: MixtralConfig = { vocab: 5, seq: 4, dModel: 8, heads: 2, layers: 2, dFF: 6, seed: 3, dtype: 'f64', moe } as MixtralConfig;
      const model = new Mixtral(be, config);
      const rng = new Rng(4), ids = randInts(rng, [8], 5), targets = randInts(rng, [8], 5);
      const f = async () => (await ad.crossEntropy(be, await model.forward(ids, 2), targets)).loss;
      await valueAndGrads(be, model.parameters(), f);
      const loss = async () => (await f()).data[0]! + model.auxLoss();
      for (const p of model.parameters()) if (!p.name.endsWith('.balance')) await gradcheck(p.name, p.value, p.grad.data, loss, { samples: 3 });
    });
  }

  it('an MoE layer of your own expert and gate classes, with replicas and capacity', async () => {
    const rng = new Rng(9);
    const layer = new MoELayer(be, 6, { experts: 4, topk: 2, dFF: 8, capacityFactor: 1, expert: 'squared-relu', kind: 'sharp-softmax', rng, dtype: 'f64' });
    layer.setReplicaCounts([2, 1, 3, 1]);
    const x = randn(rng, [9, 6], 1, 'f64'), r = randn(rng, [9, 6], 1, 'f64');
    const y = await layer.forward(x);
    const dx = await layer.backward(r);
    const loss = async () => dot(await layer.forward(x), r);
    assert.equal(y.rows, 9);
    await gradcheck('dx', x, dx.data, loss, { samples: 54 });
    for (const p of layer.parameters()) await gradcheck(p.name, p.value, p.grad.data, loss, { samples: 8 });
  });

  it('unknown expert and gate classes are named with the known ones', async () => {
    assert.throws(() => new MoELayer(be, 6, { experts: 4, topk: 2, dFF: 8, expert: 'nope', rng: new Rng(1) }), /unknown expert "nope"; known: ffn, swiglu, squared-relu/);
    assert.throws(() => new MoELayer(be, 6, { experts: 4, topk: 2, dFF: 8, kind: 'nope', rng: new Rng(1) }), /unknown gate "nope"; known: topk, sigmoid, sharp-softmax/);
  });

  it('the auxiliary-loss-free gate moves a skewed start toward balance', async () => {
    const layer = new MoELayer(be, 6, { experts: 8, topk: 2, dFF: 8, kind: 'sigmoid', routerSkew: 3, biasRate: 0.01, rng: new Rng(5), dtype: 'f64' });
    const x = randn(new Rng(6), [64, 6], 30, 'f64');
    const ratios: number[] = [];
    for (let step = 0; step < 60; step++) {
      // A recorded (training) forward nudges the bias; nothing else changes between steps.
      await new Tape(be).run(() => layer.forward(x));
      ratios.push(balanceRatio(layer.lastRouting!.counts));
    }
    const late = ratios.slice(-10).reduce((a, b) => a + b, 0) / 10;
    assert.ok(ratios[0]! > 3, `skewed start: max/mean ${ratios[0]}`);
    assert.ok(late < 1.7, `max/mean expert load ${ratios[0]} at the start, ${late} over the last 10 steps`);
    // Evaluation (no tape) leaves the bias alone.
    const before = Array.from((layer.gate as unknown as { balance: { value: { data: Float64Array } } }).balance.value.data);
    await untaped(() => layer.forward(x));
    assert.deepEqual(Array.from((layer.gate as unknown as { balance: { value: { data: Float64Array } } }).balance.value.data), before);
  });
});

describe('models composed from classes: on devices, checkpointed and served', function () {
  this.timeout(240_000);
  const modules = [new URL('../examples/mixtral.ts', import.meta.url), new URL('../examples/own-parts.ts', import.meta.url)];
  const config = { vocab: 0, seq: 16, dModel: 32, heads: 2, layers: 2, dFF: 48, seed: 5, moe: { experts: 4, topk: 2, expert: 'squared-relu', kind: 'sharp-softmax' } } as unknown as MixtralConfig;
  const base = { task: 'mixtral', modules, config: config as never, steps: 20, batch: 8, lr: 3e-3, corpusChars: 50_000 };
  // Moves expert 0 of every layer from device 0 to device 1 after step 3, and back after step 9.
  const shuttle = (): Policy => ({
    name: 'shuttle', initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide: (load, placement) => (load.step === 4 || load.step === 10 ? [{ op: 'migrate', expert: 0, from: placement.replicasOf(0)[0]!, to: 1 - placement.replicasOf(0)[0]! }] : []),
    dispatch: () => ({ mode: 'split', locality: true }),
  });

  it('your own expert and gate classes: the same losses on 1 and 2 devices, cloned, migrated and shadowed', async () => {
    const one = await trainDistributed({ ...base, devices: 1 });
    const runs = {
      'two devices, expert 0 cloned onto both': await trainDistributed({ ...base, devices: 2, replicas: [[0, 1], [1], [0], [1]] }),
      'two devices, expert 0 migrating': await trainDistributed({ ...base, devices: 2, slots: 3, policy: shuttle, profile: clusterA100, onRebalance: (r) => assert.equal(r.moves!.migrated, 1) }),
    };
    for (const [name, h] of Object.entries(runs)) one.forEach((s, i) => assert.ok(Math.abs(s.loss - h[i]!.loss) <= 1e-5 * s.loss, `${name}, step ${i}: ${h[i]!.loss} vs ${s.loss} on one device`));
    assert.equal(runs['two devices, expert 0 migrating'].at(-1)!.placementVersion, 2, 'two migrations');
    assert.ok(one.at(-1)!.loss < one[0]!.loss, 'and it learns');
    // Shadowing (FasterMoE) makes scratch copies of your expert class; a skewed top-1 router makes it worth it.
    const top1 = { ...base, steps: 8, config: { ...config, moe: { experts: 4, topk: 1, expert: 'squared-relu', routerSkew: 1 } } as never };
    const plain = await trainDistributed({ ...top1, devices: 1 });
    const shadowed = await trainDistributed({ ...top1, devices: 2, slots: 4, policy: 'fastermoe', profile: { ...clusterA100, dModel: 32, dFF: 6 } });
    plain.forEach((s, i) => assert.ok(Math.abs(s.loss - shadowed[i]!.loss) <= 1e-5 * s.loss, `shadowed, step ${i}: ${shadowed[i]!.loss} vs ${s.loss}`));
    assert.ok(shadowed.some((s) => s.shadows.some((l) => l.length > 0)), 'some step shadowed an expert');
  });

  it('checkpointed on 2 devices, resumed on 1 as if never stopped, then served from its own module on 1 and 2 devices', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'flexmoe-composed-')), 'mixtral.ckpt');
    const whole = await trainDistributed({ ...base, devices: 2, steps: 12 });
    const first = await trainDistributed({ ...base, devices: 2, steps: 12, until: 6, checkpoint: file });
    const rest = await trainDistributed({ ...base, devices: 1, steps: 12, resume: file, checkpoint: file });
    [...first, ...rest].forEach((s, i) => assert.ok(Math.abs(s.loss - whole[i]!.loss) <= 1e-5 * whole[i]!.loss, `step ${i}: ${s.loss} vs ${whole[i]!.loss}`));
    const texts: string[] = [];
    for (const devices of [1, 2]) {
      const model = await loadModel(file, { devices });
      try {
        texts.push(await model.generate('Call me ', { maxTokens: 24, seed: 3 }));
      } finally {
        await model.close();
      }
    }
    assert.equal(texts[0]!.length, 24);
    assert.equal(texts[1], texts[0], 'the same text on 1 and 2 devices');
  });
});
