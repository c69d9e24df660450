import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import { createDefaultBackend } from '../src/kernels/backend.js';
import { CharTransformer, type CharTransformerConfig } from '../src/models/char-transformer.js';
import { Tensor } from '../src/tensor/tensor.js';
import { loadModel } from '../src/serve/load.js';
import { buildServingModel } from '../src/serve/build.js';
import { trainDistributed } from '../src/train/distributed.js';

describe('serving a trained model', function () {
  this.timeout(120_000);
  let file: string;
  before(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'flexmoe-serve-')), 'gpt.ckpt');
    const corpus = new CharCorpus(mobyDick().slice(0, 50_000));
    const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 3, moe: { experts: 4, topk: 2 } };
    await trainDistributed({ devices: 2, config, steps: 20, batch: 8, lr: 5e-3, corpusChars: 50_000, checkpoint: file });
  });

  it('streaming yields the same text as generate for the same seed; an abort stops a generation and frees its slot', async () => {
    const model = await loadModel(file, { maxBatch: 2 });
    try {
      const whole = await model.generate('Call me ', { maxTokens: 30, seed: 4 });
      let streamed = '';
      for await (const ch of model.generateStream('Call me ', { maxTokens: 30, seed: 4 })) streamed += ch;
      assert.equal(streamed, whole);
      // Abort after a few characters: the promise fails naming the abort, and the slot is free again.
      const stop = new AbortController();
      let seen = 0;
      const long = model.generateStream('Call me ', { maxTokens: 4000, seed: 4, signal: stop.signal });
      await assert.rejects((async () => {
        for await (const _ of long) if (++seen === 5) stop.abort();
      })(), /generate: aborted after [5-9] tokens/);
      // Breaking out of the loop stops it too.
      let taken = 0;
      for await (const _ of model.generateStream('Call me ', { maxTokens: 4000 })) if (++taken === 3) break;
      await assert.rejects(model.generate('Call me ', { maxTokens: 4000, signal: AbortSignal.abort() }), /aborted after 0 tokens/);
      assert.equal(model.queueDepth, 0);
      assert.equal(await model.generate('Call me ', { maxTokens: 30, seed: 4 }), whole, 'the model serves on as before');
    } finally {
      await model.close();
    }
  });

  it('logits at picked positions equal those rows of the whole forward, dense or MoE', async () => {
    const be = await createDefaultBackend();
    try {
      for (const moe of [undefined, { experts: 4, topk: 2 as const, capacityFactor: 0, noiseStd: 0 }]) {
        const config: CharTransformerConfig = { vocab: 20, seq: 8, dModel: 16, heads: 2, dFF: 32, layers: 2, seed: 5, moe };
        const net = new CharTransformer(be, config);
        const batch = 3, ids = Tensor.ints(Array.from({ length: batch * config.seq }, (_, i) => (i * 7 + 3) % config.vocab));
        const all = await net.forward(ids, batch), pick = [7, 0, 4];
        const at = await net.forwardAt(ids, batch, pick);
        assert.deepEqual(at.shape, [batch, config.vocab]);
        pick.forEach((p, b) => {
          const want = all.data.subarray((b * config.seq + p) * config.vocab, (b * config.seq + p + 1) * config.vocab);
          const got = at.data.subarray(b * config.vocab, (b + 1) * config.vocab);
          got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1e-6 * (1 + Math.abs(want[i]!)), `${moe ? 'MoE' : 'dense'}, sequence ${b}, logit ${i}: ${v} vs ${want[i]}`));
        });
        await assert.rejects(net.forwardAt(ids, batch, [8, 0, 0]), /pick needs one position in \[0, 8\) per sequence/);
      }
    } finally {
      be.dispose();
    }
  });

  it('a model trained routing by a workload is served routing by its gates (draws would depend on a token\'s place in its batch)', async () => {
    const be = await createDefaultBackend();
    try {
      const config: CharTransformerConfig = { vocab: 20, seq: 8, dModel: 16, heads: 2, dFF: 32, layers: 1, seed: 5, moe: { experts: 4, topk: 2, routing: 'zipf:2' } };
      const served = buildServingModel(be, 'routed.ckpt', { task: 'gpt-moe', config });
      const learned = new CharTransformer(be, { ...config, moe: { experts: 4, topk: 2 } });
      served.net.parameters().forEach((p, i) => p.value.data.set(learned.parameters()[i]!.value.data));
      const ids = Tensor.ints(Array.from({ length: 2 * config.seq }, (_, i) => (i * 7 + 3) % config.vocab));
      await served.forward(ids.data, 2);
      await learned.forward(ids, 2);
      // Same weights: the served gate picks what the logits pick (at the last position of each
      // sequence, all a served pass runs its last block on).
      const all = learned.moeLayers()[0]!.lastRouting!.indices.data, last = [config.seq - 1, 2 * config.seq - 1];
      assert.deepEqual(Array.from(served.net.moeLayers()[0]!.lastRouting!.indices.data), last.flatMap((t) => [all[2 * t]!, all[2 * t + 1]!]));
    } finally {
      be.dispose();
    }
  });

  it('micro-batched answers equal unbatched ones for the same seeds', async () => {
    const batched = await loadModel(file, { maxBatch: 8, maxWaitMs: 20 });
    const single = await loadModel(file, { maxBatch: 1 });
    try {
      const prompts = ['The whale', 'Call me', 'Ahab', 'sea'];
      const together = await Promise.all(prompts.map((p, i) => batched.generate(p, { maxTokens: 5 + i, seed: i })));
      for (const [i, p] of prompts.entries()) assert.equal(together[i], await single.generate(p, { maxTokens: 5 + i, seed: i }), p);
      assert.deepEqual(together.map((t) => t.length), [5, 6, 7, 8]);
    } finally {
      await batched.close();
      await single.close();
    }
  });

  it('bad prompts, overload and close', async () => {
    const model = await loadModel(file, { maxBatch: 1, maxQueue: 2 });
    await assert.rejects(model.generate(''), /generate: the prompt is empty/);
    await assert.rejects(model.generate('hello ☃'), /character "☃" at position 6 is not in the vocabulary/);
    // One request in flight and two waiting fill a queue of 2: the fourth is refused at once.
    const accepted = ['a', 'b', 'c'].map((p) => model.generate(p, { maxTokens: 3 }));
    await assert.rejects(model.generate('d'), /overloaded: 2 requests are waiting \(limit 2\)/);
    const closing = model.close();
    assert.deepEqual((await Promise.all(accepted)).map((t) => t.length), [3, 3, 3], 'close finishes the accepted work');
    await closing;
    await assert.rejects(model.generate('a'), /generate: the model is closed/);
    await assert.rejects(loadModel(file, { maxBatch: 0 }), /loadModel: maxBatch must be an integer ≥ 1, got 0/);
    const defaults = await loadModel(file, { maxBatch: undefined, maxQueue: undefined });
    assert.deepEqual(defaults.options, { maxBatch: 8, maxWaitMs: 5, maxQueue: 64, maxImages: 64 }, 'options given as undefined keep their defaults');
    await defaults.close();
  });
});
