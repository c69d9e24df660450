import assert from 'node:assert/strict';
import { createDefaultBackend } from '../src/kernels/backend.js';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import { CharTransformer } from '../src/models/char-transformer.js';
import { generate, trainCharLM } from '../src/train/lm.js';

describe('the npm start model (reduced size)', function () {
  this.timeout(240_000);

  it('loss falls over 200 seeded steps, and training is deterministic for a seed', async () => {
    const be = await createDefaultBackend();
    try {
      const corpus = new CharCorpus(mobyDick().slice(0, 200_000));
      const make = () => new CharTransformer(be, { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 4 });
      const model = make();
      const { history, evalLoss } = await trainCharLM(be, model, corpus, { steps: 200, batch: 8, lr: 3e-3, seed: 4 });
      const first = mean(history.slice(0, 10).map((s) => s.loss));
      const last = mean(history.slice(-20).map((s) => s.loss));
      assert.ok(first > 4, `starts near ln(vocab): ${first}`);
      assert.ok(last < first - 1.2, `loss falls: ${first.toFixed(3)} → ${last.toFixed(3)}`);
      assert.ok(evalLoss < first - 1, `held-out loss falls too: ${evalLoss}`);
      const short = async () => (await trainCharLM(be, make(), corpus, { steps: 5, batch: 8, lr: 3e-3, seed: 4 })).history.map((s) => s.loss);
      assert.deepEqual(await short(), await short(), 'same seed, same losses');
      const text = await generate(be, model, corpus, 'The ', 20, { seed: 1 });
      assert.equal([...text].length, 20);
    } finally {
      be.dispose();
    }
  });

  it('GPT-MoE (top-2, 4 experts): loss falls, routing is reported, no token dropped without a capacity factor', async () => {
    const be = await createDefaultBackend();
    try {
      const corpus = new CharCorpus(mobyDick().slice(0, 200_000));
      const model = new CharTransformer(be, { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 4, moe: { experts: 4, topk: 2, routerSkew: 1 } });
      const { history } = await trainCharLM(be, model, corpus, { steps: 120, batch: 8, lr: 3e-3, seed: 4 });
      const first = mean(history.slice(0, 10).map((s) => s.loss)), last = mean(history.slice(-20).map((s) => s.loss));
      assert.ok(last < first - 1, `loss falls: ${first.toFixed(3)} → ${last.toFixed(3)}`);
      assert.ok(history.every((s) => s.auxLoss > 0 && s.droppedTokens === 0));
      const counts = history[0]!.expertCounts[0]!;
      assert.equal(counts.reduce((a, b) => a + b, 0), 8 * 16 * 2, 'every token routed to two experts');
      assert.ok(counts[0]! > counts[3]!, 'router skew starts expert 0 hottest');
    } finally {
      be.dispose();
    }
  });

  it('characters outside the vocabulary are a clear error', () => {
    const corpus = new CharCorpus('abcabcabc');
    assert.throws(() => corpus.vocab.encode('abz'), /character "z" at position 2 is not in the vocabulary/);
  });
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
