import assert from 'node:assert/strict';
import { createBackend } from '../src/kernels/backend.js';
import { TopKGate } from '../src/moe/gates.js';
import { WorkloadRouting } from '../src/moe/workload-routing.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';

describe('routing by a synthetic workload (GateOptions.routing)', () => {
  it('draws distinct experts per token, as often as the step\'s popularity says, the same for the same step and token position', () => {
    const r = new WorkloadRouting('zipf:1.5', 4, 2, 7, 100);
    const a = r.choose(3, 0, 20_000);
    assert.deepEqual(r.choose(3, 0, 20_000), a, 'deterministic');
    assert.notDeepEqual(r.choose(3, 1, 20_000), a, 'other positions draw apart');
    assert.deepEqual(r.choose(3, 5_000, 10_000), a.slice(10_000, 30_000), 'a token draws by its global position, whatever range it is drawn in');
    assert.notDeepEqual(r.choose(4, 0, 20_000), a, 'another step draws apart');
    for (let t = 0; t < 20_000; t++) assert.notEqual(a[2 * t], a[2 * t + 1], `token ${t} drew one expert twice`);
    // First choices follow the popularity itself (Gumbel top-k: the first draw is a plain categorical one).
    const p = r.popularity(3), first = new Float64Array(4);
    for (let t = 0; t < 20_000; t++) first[a[2 * t]!]!++;
    p.forEach((pe, e) => assert.ok(Math.abs(first[e]! / 20_000 - pe) < 0.015, `expert ${e}: ${first[e]! / 20_000} vs ${pe}`));
  });

  it('drift moves the hottest expert every 25 steps; a bad workload or a transient one without a length is refused', () => {
    const r = new WorkloadRouting('zipf:2,drift', 8, 1, 3, 100);
    const hottest = (step: number) => { const p = r.popularity(step); return p.indexOf(Math.max(...p)); };
    assert.equal(hottest(0), hottest(24));
    assert.notEqual(hottest(24), hottest(25));
    assert.throws(() => new WorkloadRouting('zipf:x', 8, 1, 3, 100), /routing: "zipf:x" is not zipf:S/);
    assert.throws(() => new WorkloadRouting('zipf:1,transient', 8, 1, 3, 0), /a transient phase needs the run's length/);
  });

  it('a gate that routes by a workload takes its experts from it and its combine weights from its own probabilities', async () => {
    const be = await createBackend('reference');
    const gate = new TopKGate(be, 8, { experts: 4, topk: 2, rng: new Rng(2), routing: 'zipf:2' });
    const plain = new TopKGate(be, 8, { experts: 4, topk: 2, rng: new Rng(2) });
    const x = Tensor.zeros([64, 8]) as F32;
    for (let i = 0; i < x.size; i++) x.data[i] = Math.sin(i);
    gate.routingStep = 5;
    gate.device = 1;
    const r = await gate.forward(x), q = await plain.forward(x);
    const want = new WorkloadRouting('zipf:2', 4, 2, new Rng(2).position, 0).choose(5, 64, 64);
    assert.deepEqual(Array.from(r.indices.data), Array.from(want));
    assert.notDeepEqual(Array.from(r.indices.data), Array.from(q.indices.data), 'not what the logits choose');
    // Same parameters, so the same probabilities: the weights renormalise them over the drawn pair.
    const probs = await be.ops.softmax(await plain.proj.forward(x));
    for (let t = 0; t < 64; t++) {
      const [e0, e1] = [want[2 * t]!, want[2 * t + 1]!], p0 = probs.data[t * 4 + e0]!, p1 = probs.data[t * 4 + e1]!;
      assert.ok(Math.abs(r.weights[2 * t]! - p0 / (p0 + p1)) < 1e-6 && Math.abs(r.weights[2 * t + 1]! - p1 / (p0 + p1)) < 1e-6, `token ${t}`);
    }
  });
});
