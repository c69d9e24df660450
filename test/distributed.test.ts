import assert from 'node:assert/strict';
import { createBackend } from '../src/kernels/backend.js';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import { CharTransformer, type CharTransformerConfig } from '../src/models/char-transformer.js';
import { trainCharLM } from '../src/train/lm.js';
import { trainDistributed } from '../src/train/distributed.js';

describe('MoE training across devices (actors on worker threads)', function () {
  this.timeout(240_000);
  const chars = 100_000;
  const corpus = new CharCorpus(mobyDick().slice(0, chars));
  const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 3, moe: { experts: 4, topk: 2, routerSkew: 1 } };
  const steps = 20, batch = 8, lr = 3e-3;

  it('placement transparency: 1 device, 2 devices, 2 devices with a hot expert on both: the same losses over 20 steps', async () => {
    const be = await createBackend('gpujs-webasm');
    let reference: number[];
    try {
      reference = (await trainCharLM(be, new CharTransformer(be, config), corpus, { steps, batch, lr, seed: config.seed })).history.map((s) => s.loss);
    } finally {
      be.dispose();
    }
    const runs = {
      'one device': await trainDistributed({ devices: 1, config, steps, batch, lr, corpusChars: chars }),
      'two devices': await trainDistributed({ devices: 2, config, steps, batch, lr, corpusChars: chars }),
      'two devices, expert 0 on both': await trainDistributed({ devices: 2, config, steps, batch, lr, corpusChars: chars, replicas: [[0, 1], [1], [0], [1]] }),
    };
    for (const [name, h] of Object.entries(runs)) {
      h.forEach((s, i) => assert.ok(Math.abs(s.loss - reference[i]!) <= 1e-5 * reference[i]!, `${name}, step ${i}: ${s.loss} vs ${reference[i]}`));
    }
    const last = runs['two devices, expert 0 on both'].at(-1)!;
    assert.equal(last.expertCounts.length, 2, 'counts per MoE layer');
    assert.equal(last.expertCounts[0]!.reduce((a, b) => a + b, 0), batch * config.seq * 2, 'every token routed twice, counted once');
    assert.ok(reference.at(-1)! < reference[0]!, 'and the loss falls');
  });

  it('bad layouts are refused with the reason', async () => {
    await assert.rejects(trainDistributed({ devices: 3, config, steps: 1, batch: 8, lr }), /global batch 8 does not split over 3 devices/);
    await assert.rejects(trainDistributed({ devices: 2, config, steps: 1, batch: 8, lr, replicas: [[0], [1], [2], [0]] }), /replicas must list 1\+ valid devices for each of 4 experts/);
  });
});
