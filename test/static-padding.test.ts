import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { clusterA100, stepCost } from '../src/sched/cost.js';
import { Placement } from '../src/sched/placement.js';
import { makePolicy } from '../src/sched/policies/index.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { trainDistributed } from '../src/train/distributed.js';

describe('static (DeepSpeed dropless, padded) against static-unpadded', function () {
  this.timeout(240_000);
  const chars = 100_000;
  const corpus = new CharCorpus(mobyDick().slice(0, chars));
  const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 5, moe: { experts: 4, topk: 2, routerSkew: 1.5 } };

  it('live, static pads every hosted expert to the step\'s largest expert; the zero rows change no loss and no weight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-pad-'));
    const base = { devices: 2, config, steps: 6, batch: 8, lr: 3e-3, corpusChars: chars };
    const padded = await trainDistributed({ ...base, policy: 'static', checkpoint: join(dir, 'padded.ckpt') });
    const exact = await trainDistributed({ ...base, policy: 'static-unpadded', checkpoint: join(dir, 'exact.ckpt') });
    padded.forEach((s, i) => assert.ok(Math.abs(s.loss - exact[i]!.loss) <= 1e-6 * exact[i]!.loss, `step ${i}: ${s.loss} vs ${exact[i]!.loss}`));
    for (const [s, u] of padded.map((s, i) => [s, exact[i]!] as const)) {
      // Round-robin: device d hosts experts d and d + 2 in each layer; padded, each computes the layer's largest expert total.
      const want = s.expertCounts.reduce((n, layer) => n + 2 * Math.max(...layer), 0);
      assert.deepEqual(s.deviceExpertRows, [want, want], `step ${s.step}: counts ${JSON.stringify(s.expertCounts)}`);
      const real = [0, 1].map((d) => u.expertCounts.reduce((n, layer) => n + layer[d]! + layer[d + 2]!, 0));
      assert.deepEqual(u.deviceExpertRows, real, `step ${u.step}: unpadded computes its own rows`);
      assert.ok(s.deviceExpertRows[0]! > u.deviceExpertRows[0]! || s.deviceExpertRows[1]! > u.deviceExpertRows[1]!, 'skewed routing: padding adds rows');
    }
    // Named by no one, the policy is static-unpadded: padding is the baseline's, not a default.
    const byDefault = await trainDistributed({ ...base, steps: 2 });
    assert.deepEqual(byDefault.map((s) => s.deviceExpertRows), exact.slice(0, 2).map((s) => s.deviceExpertRows));
    const a = loadCheckpoint(join(dir, 'exact.ckpt')).tensors, b = loadCheckpoint(join(dir, 'padded.ckpt')).tensors;
    for (const [name, t] of a) {
      const u = b.get(name)!.data;
      const worst = t.data.reduce((m, v, i) => Math.max(m, Math.abs(v - u[i]!)), 0);
      assert.ok(worst <= 1e-6, `${name}: differs by ${worst}`);
    }
  });

  it('simulated, the same two: padded buffers cost the busiest device hosted experts × the largest expert', () => {
    const placement = Placement.roundRobin(2, 2, 4);
    const counts = [Float64Array.from([300, 50, 10, 0]), Float64Array.from([100, 30, 10, 0])];
    const view = { step: 0, history: [], current: counts, topk: 1 };
    const padded = stepCost(counts, placement, clusterA100, makePolicy('static').dispatch(view, placement, clusterA100));
    const exact = stepCost(counts, placement, clusterA100, makePolicy('static-unpadded').dispatch(view, placement, clusterA100));
    assert.deepEqual(Array.from(padded.deviceTokens), [800, 800]);
    assert.deepEqual(Array.from(exact.deviceTokens), [420, 80]);
    assert.ok(padded.stepMs > exact.stepMs);
  });
});
