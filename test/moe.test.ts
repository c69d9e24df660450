import assert from 'node:assert/strict';
import { createBackend, type Backend } from '../src/kernels/backend.js';
import { TopKGate } from '../src/moe/gates.js';
import { MoELayer } from '../src/moe/moe-layer.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { dot, gradcheck } from './support/gradcheck.js';
import { randn } from './support/numeric.js';

describe('MoE layer (one process)', () => {
  let be: Backend;
  before(async () => (be = await createBackend('reference')));

  // Every option combination, not the defaults only: capacity dropping one of a token's two choices
  // is where a router gradient went wrong once.
  const combos: { topk: 1 | 2; capacityFactor: number; skew: number; routing?: string }[] = [];
  for (const topk of [1, 2] as const) for (const capacityFactor of [0, 0.75, 1, 1.25]) for (const skew of [0, 2]) combos.push({ topk, capacityFactor, skew });
  combos.push({ topk: 2, capacityFactor: 0, skew: 0, routing: 'zipf:1.5' }, { topk: 2, capacityFactor: 1, skew: 0, routing: 'zipf:1.5' });
  for (const { topk, capacityFactor, skew, routing } of combos) {
    const what = `top-${topk}, capacity ${capacityFactor || 'none'}, skew ${skew}${routing ? `, routed by the workload ${routing}` : ''}`;
    it(`whole-layer gradient check, ${what}, with replicas, aux and z losses (float64)`, async () => {
      const rng = new Rng(11 + topk + 10 * capacityFactor + skew);
      const layer = new MoELayer(be, 6, { experts: 4, topk, dFF: 8, auxCoef: 0.1, zCoef: 0.01, capacityFactor, routerSkew: skew, rng, dtype: 'f64', routing });
      layer.setReplicaCounts([2, 1, 3, 1]);
      const x = randn(rng, [9, 6], 1, 'f64'), r = randn(rng, [9, 6], 1, 'f64');
      const loss = async () => dot(await layer.forward(x), r) + layer.auxLoss();
      await loss();
      const routingSeen = layer.lastRouting!;
      if (capacityFactor > 0 && capacityFactor < 1) assert.ok(routingSeen.dropped > 0, `${what}: the check must drop assignments`);
      if (topk === 2 && capacityFactor > 0 && capacityFactor < 1 && skew === 0) {
        const halfDropped = Array.from({ length: x.rows }, (_, t) => routingSeen.kept[2 * t]! + routingSeen.kept[2 * t + 1]!).filter((n) => n === 1).length;
        assert.ok(halfDropped > 0, `${what}: some token must keep one of its two choices`);
      }
      const dx = await layer.backward(r);
      await gradcheck('dx', x, dx.data, loss, { samples: 54 });
      for (const p of layer.parameters()) await gradcheck(p.name, p.value, p.grad.data, loss, { samples: 8 });
    });
  }

  it('placement transparency: replicas change no output, and gradients only by summation order', async () => {
    const gpu = await createBackend('gpujs-webasm');
    try {
      const run = async (counts: number[]) => {
        const layer = new MoELayer(gpu, 16, { experts: 4, topk: 2, dFF: 32, rng: new Rng(5) });
        layer.setReplicaCounts(counts);
        const x = randn(new Rng(6), [40, 16]);
        const y = await layer.forward(x);
        const dx = await layer.backward(randn(new Rng(7), [40, 16]));
        return { y: y.toArray(), dx: dx.toArray(), g: layer.parameters().map((p) => p.grad.toArray()) };
      };
      const one = await run([1, 1, 1, 1]), many = await run([2, 3, 1, 2]);
      assert.deepEqual(many.y, one.y, 'forward is bit-identical');
      assert.deepEqual(many.dx, one.dx, 'input gradient is bit-identical');
      one.g.forEach((g, i) => {
        const scale = Math.max(...g.map(Math.abs));
        const diff = Math.max(...g.map((v, j) => Math.abs(v - many.g[i]![j]!)));
        assert.ok(diff <= 1e-5 * scale, `parameter ${i}: ${diff} vs scale ${scale}`);
      });
    } finally {
      gpu.dispose();
    }
  });
});

describe('gate: aux loss and capacity, by hand', () => {
  let be: Backend;
  before(async () => (be = await createBackend('reference')));

  it('Switch aux loss = coef · E · Σ f_e · P_e, and capacity drops in token order', async () => {
    const gate = new TopKGate(be, 2, { experts: 2, topk: 1, auxCoef: 1, capacityFactor: 1, rng: new Rng(1), dtype: 'f64' });
    // Identity routing weights: logits = x, so probabilities are softmax(x).
    gate.proj.weight.value.data.set([1, 0, 0, 1]);
    gate.proj.bias!.value.data.fill(0);
    const x = new Tensor('f64', [4, 2], Float64Array.from([2, 0, 3, 0, 0, 1, 4, 0])) as unknown as F32;
    const r = await gate.forward(x);
    assert.deepEqual(Array.from(r.indices.data), [0, 0, 1, 0]);
    // capacity ⌈1 · 4 · 1 / 2⌉ = 2: the third token routed to expert 0 (token 3) is dropped
    assert.deepEqual(Array.from(r.kept), [1, 1, 1, 0]);
    assert.equal(r.dropped, 1);
    const p = (a: number, b: number) => Math.exp(a) / (Math.exp(a) + Math.exp(b));
    const P0 = (p(2, 0) + p(3, 0) + p(0, 1) + p(4, 0)) / 4;
    const expected = 2 * ((3 / 4) * P0 + (1 / 4) * (1 - P0)); // counts before capacity: 3 and 1
    assert.ok(Math.abs(r.auxLoss - expected) < 1e-12, `${r.auxLoss} vs ${expected}`);
  });

  it('router skew makes popularity start Zipf-shaped', async () => {
    const gate = new TopKGate(be, 4, { experts: 8, topk: 1, routerSkew: 1.5, rng: new Rng(2), dtype: 'f64' });
    const r = await gate.forward(randn(new Rng(3), [400, 4], 0.1, 'f64'));
    assert.ok(r.counts[0]! > 3 * r.counts[7]!, `counts ${Array.from(r.counts)}`);
  });

  it('bad gate options are explained', () => {
    assert.throws(() => new TopKGate(be, 4, { experts: 1, topk: 2, rng: new Rng(1) }), /topk 2 > experts 1/);
  });
});

describe('expert shadowing helpers', () => {
  it('a receiver computes what each source sends it from the count alone, as the sender splits', async () => {
    const { shareOf } = await import('../src/moe/shadows.js');
    for (const n of [0, 1, 5, 7, 64]) {
      for (const replicas of [[2], [0, 2], [1, 2, 3], [3, 0, 1, 2]]) {
        for (let s = 0; s < 4; s++) {
          const shares = [0, 1, 2, 3].map((d) => shareOf(n, replicas, s, d));
          assert.equal(shares.reduce((a, b) => a + b, 0), n, `n ${n}, replicas ${replicas}, source ${s}: every assignment goes somewhere once`);
          if (replicas.includes(s)) assert.equal(shares[s], n, 'a source holding a replica keeps its tokens');
          else shares.forEach((c, d) => assert.ok(replicas.includes(d) || c === 0, 'only replicas receive'));
          // Contiguous blocks, the i-th replica taking [⌊i·n/r⌋, ⌊(i+1)·n/r⌋).
          if (!replicas.includes(s)) replicas.forEach((d, i) => assert.equal(shares[d], Math.floor(((i + 1) * n) / replicas.length) - Math.floor((i * n) / replicas.length)));
        }
      }
    }
  });

  it('weights travel from the first replica to the devices holding none, grouped by those devices', async () => {
    const { shadowBuckets, shadowGroup, packParameters, unpackParameters } = await import('../src/moe/shadows.js');
    assert.deepEqual(shadowGroup([2], 4), [0, 1, 2, 3]);
    assert.deepEqual(shadowGroup([2, 0], 4), [1, 2, 3]);
    assert.deepEqual(shadowGroup([0, 1], 2), [0], 'held everywhere: nothing to ship');
    // Experts 0 and 2 (first replicas 1 and 0, the others held nowhere else) share devices 0-3; expert 1 is on 0 and 1.
    const reps = [[1], [0, 1], [0], [2, 3]];
    assert.deepEqual(shadowBuckets([0, 1, 2, 3], reps, 4, 0), [{ group: [0, 1, 2, 3], experts: [0, 2] }, { group: [0, 2, 3], experts: [1] }, { group: [0, 1, 2], experts: [3] }]);
    assert.deepEqual(shadowBuckets([0, 1], reps, 4, 1), [{ group: [0, 1, 2, 3], experts: [0] }], 'device 1 holds expert 1 (not its first replica): not in its group');
    const { Parameter } = await import('../src/nn/parameter.js');
    const ps = [new Parameter('a', Tensor.from([1, 2, 3])), new Parameter('b', Tensor.from([4, 5]))];
    const packed = packParameters(ps, 'value');
    assert.deepEqual([...packed.data], [1, 2, 3, 4, 5]);
    const qs = [new Parameter('a', Tensor.from([0, 0, 0])), new Parameter('b', Tensor.from([0, 0]))];
    unpackParameters(qs, packed, 'value');
    assert.deepEqual(qs.map((p) => [...p.value.data]), [[1, 2, 3], [4, 5]]);
    qs[0]!.grad.data.fill(1);
    unpackParameters(qs, packed, 'grad');
    assert.deepEqual(qs.map((p) => [...p.grad.data]), [[2, 3, 4], [4, 5]], 'gradients are added to');
  });

  it('a shadowing choice out of range is an error naming the layer and the expert; duplicates collapse', async () => {
    const { StepShadows } = await import('../src/moe/shadows.js');
    const comm = { device: 0, devices: 2, collectives: null as never, post: null as never, replicas: () => [[0], [1], [0], [1]] };
    const shadows = new StepShadows(comm, 'MoE layer block0.moe', 4);
    const routed = [Int32Array.from([5, 0, 0, 0]), Int32Array.from([5, 0, 0, 0])];
    const by = (chosen: number[]) => ({ choose: () => chosen, scratch: () => { throw new Error('not used'); } });
    assert.throws(() => shadows.choose(by([7]), routed, comm.replicas()), /MoE layer block0.moe shadowing: chose expert 7; experts are 0…3/);
    assert.deepEqual(shadows.choose(by([2, 0, 2]), routed, comm.replicas()), [0, 2]);
    assert.deepEqual(shadows.choose(undefined, routed, comm.replicas()), [], 'no shadowing policy: none');
  });
});
