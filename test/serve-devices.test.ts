import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, filter } from 'rxjs';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import type { VisionMoEConfig } from '../src/models/vision-moe.js';
import { MnistDigits } from '../src/data/mnist.js';
import { Rng } from '../src/nn/random.js';
import { loadModel } from '../src/serve/load.js';
import type { DeviceEngine } from '../src/serve/device-engine.js';
import { trainDistributed } from '../src/train/distributed.js';
import { until } from './support/system.js';
// Registers 'hottest-everywhere' in this copy of the registry (mocha runs this file as CommonJS;
// loadModel's import of `modules` registers in the ECMAScript-module copy).
import '../examples/hottest-everywhere.js';

describe('serving on devices', function () {
  this.timeout(120_000);
  let gpt: string, vision: string;
  const prompts = ['The whale', 'Call me', 'Ahab', 'sea', 'white', 'ship'];
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-serve-dev-'));
    gpt = join(dir, 'gpt.ckpt');
    vision = join(dir, 'vision.ckpt');
    const corpus = new CharCorpus(mobyDick().slice(0, 50_000));
    const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 3, moe: { experts: 4, topk: 2 } };
    await trainDistributed({ devices: 2, config, steps: 10, batch: 8, lr: 5e-3, corpusChars: 50_000, checkpoint: gpt });
    const vc: VisionMoEConfig = { patch: 7, dModel: 16, heads: 2, dFF: 32, layers: 1, classes: 10, seed: 1, moe: { experts: 4, topk: 2 } };
    await trainDistributed({ devices: 2, task: 'vision-moe', config: vc, steps: 5, batch: 8, lr: 1e-2, imagesPerDigit: 20, checkpoint: vision });
  });

  it('answers on 2 devices equal answers in one thread, batched or not', async () => {
    const local = await loadModel(gpt);
    const devices = await loadModel(gpt, { devices: 2, maxBatch: 4 });
    try {
      const want = await Promise.all(prompts.map((p, i) => local.generate(p, { maxTokens: 6, seed: i })));
      assert.deepEqual(await Promise.all(prompts.map((p, i) => devices.generate(p, { maxTokens: 6, seed: i }))), want);
      assert.equal(devices.stats.completed.generate, prompts.length);
      assert.ok(devices.stats.expertLoad.flat().reduce((a, b) => a + b, 0) > 0, 'per-expert load is counted');
      assert.ok(devices.stats.expertMs.every((x) => x > 0) && devices.stats.expertMs.every((x) => x < devices.stats.passMs), `experts ${devices.stats.expertMs} ms of ${devices.stats.passMs} ms of passes`);
      assert.deepEqual(local.stats.expertMs, [0], 'in one thread nothing is timed per device');
    } finally {
      await local.close();
      await devices.close();
    }
  });

  it('a placement change during traffic loses no request and changes no answer', async () => {
    const local = await loadModel(gpt);
    const model = await loadModel(gpt, { devices: 2, maxBatch: 2 });
    try {
      const want = await Promise.all(prompts.map((p, i) => local.generate(p, { maxTokens: 8, seed: i })));
      const engine = model.engine as DeviceEngine;
      const replan = firstValueFrom(model.events$.pipe(filter((e) => e.type === 'replan')));
      const answers = Promise.all(prompts.map((p, i) => model.generate(p, { maxTokens: 8, seed: i })));
      // Every expert of layer 0 on both devices, layer 1 reversed: weights must travel to new replicas.
      await engine.setPlacement([[[0, 1], [0, 1], [0, 1], [0, 1]], [[1], [0], [1], [0]]]);
      assert.deepEqual(await answers, want);
      const e = await replan;
      assert.ok(e.type === 'replan' && e.bytes > 0, 'weights were sent to the new replicas');
      assert.deepEqual(engine.replicas()[1], [[1], [0], [1], [0]]);
      assert.deepEqual(await Promise.all(prompts.map((p, i) => model.generate(p, { maxTokens: 8, seed: i }))), want, 'and after the change');
      await assert.rejects(engine.setPlacement([[[2]]]), /setPlacement: expected 2 layers × 4 experts/);
    } finally {
      await local.close();
      await model.close();
    }
  });

  it('a live policy rebalances skewed traffic and keeps the answers', async () => {
    const { clusterA100 } = await import('../src/sched/cost.js');
    const local = await loadModel(gpt);
    // No slots given (as from the command line without --slots): the default budget applies. Experts
    // priced slow, so they are most of a pass as the scheduler sees it (this test model's real
    // experts are a sliver of a pass, and the scheduler rightly leaves such a placement alone).
    const profile = { ...clusterA100, devicesPerNode: 2, dModel: 32, dFF: 64, expertTflops: 1e-5, training: false };
    const model = await loadModel(gpt, { devices: 2, policy: 'flexmoe', slots: undefined, maxBatch: 8, profile });
    try {
      const skewed = Array.from({ length: 16 }, (_, i) => 'e'.repeat(8 + (i % 5)));
      const want = await Promise.all(skewed.map((p, i) => local.generate(p, { maxTokens: 4, seed: i })));
      assert.deepEqual(await Promise.all(skewed.map((p, i) => model.generate(p, { maxTokens: 4, seed: i }))), want);
      assert.ok(model.stats.replans > 0, 'the skewed traffic made the scheduler re-plan');
      assert.ok(model.stats.balanceRatio.every((r) => r >= 1 && r < 1.5), `balance after re-planning: ${model.stats.balanceRatio}`);
      // A placement pinned by hand under a moving policy: the scheduler carries it out and plans from it.
      const engine = model.engine as DeviceEngine;
      const pinned = [[[0], [1], [0], [1]], [[1], [0], [1], [0]]];
      await engine.setPlacement(pinned);
      assert.deepEqual(engine.replicas(), pinned);
      assert.deepEqual(await Promise.all(skewed.slice(0, 4).map((p, i) => model.generate(p, { maxTokens: 4, seed: i }))), want.slice(0, 4), 'same answers after the pinned switch');
    } finally {
      await local.close();
      await model.close();
    }
  });

  it('FasterMoE shadowing while serving: hot experts computed on every device, the same answers', async () => {
    const { clusterA100 } = await import('../src/sched/cost.js');
    const local = await loadModel(gpt);
    // Weights priced cheap next to the hot experts' traffic, so the greedy shadows.
    const profile = { ...clusterA100, dModel: 32, dFF: 8 };
    const model = await loadModel(gpt, { devices: 2, policy: 'fastermoe', profile, maxBatch: 8 });
    try {
      const skewed = Array.from({ length: 16 }, (_, i) => 'e'.repeat(8 + (i % 5)));
      const want = await Promise.all(skewed.map((p, i) => local.generate(p, { maxTokens: 4, seed: i })));
      assert.deepEqual(await Promise.all(skewed.map((p, i) => model.generate(p, { maxTokens: 4, seed: i }))), want);
      assert.ok(model.stats.shadowedPasses > 0, `shadowed in ${model.stats.shadowedPasses} of ${model.stats.passes} passes`);
      assert.equal(model.stats.replans, 0, 'shadowing never changes the placement');
    } finally {
      await local.close();
      await model.close();
    }
    await assert.rejects(loadModel(gpt, { devices: 2, policy: 'oracle' }), /serving supports the policies static, static-unpadded, flexmoe, eplb, fastermoe, flexmoe-react and policies of your own .*\(got "oracle"\)/);
  });

  it('a policy of your own (registerPolicy in a module the devices load) re-plans while serving; the answers stay', async () => {
    const { clusterA100 } = await import('../src/sched/cost.js');
    const local = await loadModel(gpt);
    // Every pass heard (loadWindowMs 0): this little traffic can end inside one default 50 ms window.
    const model = await loadModel(gpt, { devices: 2, policy: 'hottest-everywhere', modules: [new URL('../examples/hottest-everywhere.ts', import.meta.url)], profile: clusterA100, maxBatch: 8, loadWindowMs: 0 });
    try {
      const skewed = Array.from({ length: 8 }, (_, i) => 'e'.repeat(8 + (i % 5)));
      const want = await Promise.all(skewed.map((p, i) => local.generate(p, { maxTokens: 4, seed: i })));
      assert.deepEqual(await Promise.all(skewed.map((p, i) => model.generate(p, { maxTokens: 4, seed: i }))), want);
      // The plan is made from the first pass's routing and may land after the last answer.
      await until(() => model.stats.replans >= 2, 'the re-plans');
      assert.equal(model.stats.replans, 2, 'one expand per MoE layer, once');
      // Each layer's hottest expert of the first pass now has a replica on both devices.
      const reps = (model.engine as DeviceEngine).replicas();
      for (const layer of reps) assert.equal(layer.filter((r) => r.length === 2).length, 1, JSON.stringify(reps));
    } finally {
      await local.close();
      await model.close();
    }
  });

  it('the scheduler hears the routing summed over a window of passes (loadWindowMs)', async () => {
    const { clusterA100 } = await import('../src/sched/cost.js');
    const skewed = Array.from({ length: 8 }, (_, i) => 'e'.repeat(8 + (i % 5)));
    const modules = [new URL('../examples/hottest-everywhere.ts', import.meta.url)];
    // A window no traffic here fills: the scheduler never hears, so the policy never plans.
    const quiet = await loadModel(gpt, { devices: 2, policy: 'hottest-everywhere', modules, profile: clusterA100, maxBatch: 8, loadWindowMs: 3_600_000 });
    try {
      await Promise.all(skewed.map((p, i) => quiet.generate(p, { maxTokens: 4, seed: i })));
      assert.ok(quiet.stats.passes > 1);
      assert.equal(quiet.stats.replans, 0, 'no window was full');
    } finally {
      await quiet.close();
    }
    // Every pass (0): the first pass's routing is heard and planned from.
    const eager = await loadModel(gpt, { devices: 2, policy: 'hottest-everywhere', modules, profile: clusterA100, maxBatch: 8, loadWindowMs: 0 });
    try {
      await Promise.all(skewed.map((p, i) => eager.generate(p, { maxTokens: 4, seed: i })));
      await until(() => eager.stats.replans >= 2, 'the re-plans');
      assert.equal(eager.stats.replans, 2, 'one expand per MoE layer');
    } finally {
      await eager.close();
    }
  });

  it('classifies images on devices like in one thread; bad images are named', async () => {
    const digits = new MnistDigits(0.1, 20);
    const { inputs } = digits.sample(new Rng(5), 6, 'eval');
    const images = Array.from({ length: 6 }, (_, i) => Array.from(inputs.data.subarray(i * 784, (i + 1) * 784)));
    const local = await loadModel(vision, { maxBatch: 4 });
    const model = await loadModel(vision, { devices: 2, maxBatch: 4 });
    try {
      const want = await local.classify(images);
      const got = await model.classify(images);
      assert.equal(got.length, 6);
      got.forEach((g, i) => {
        assert.equal(g.label, want[i]!.label);
        g.probabilities.forEach((p, c) => assert.ok(Math.abs(p - want[i]!.probabilities[c]!) < 1e-5));
        assert.ok(Math.abs(g.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      });
      await assert.rejects(model.classify([[1, 2, 3]]), /classify: image 0 has 3 pixels, expected 784/);
      await assert.rejects(model.classify([images[0]!.map((v, i) => (i === 9 ? NaN : v))]), /image 0, pixel 9 is NaN/);
      await assert.rejects(model.generate('x'), /this model classifies images; use classify/);
    } finally {
      await local.close();
      await model.close();
    }
  });

  it('a bad request fails alone: pixels that would overflow are refused, and an answer that is not finite fails only its own request', async () => {
    const { loadCheckpoint, saveCheckpoint } = await import('../src/train/checkpoint.js');
    // Weights of 3e38 for the first two pixels of every 7×7 patch: an image with pixels 0 and 1 lit
    // overflows float32 inside the model; one with those pixels dark in every patch computes as
    // before (rows are computed apart).
    const ckpt = loadCheckpoint(vision);
    const tensors = new Map([...ckpt.tensors].map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.data) }]));
    tensors.get('patchEmbed.weight')!.data.fill(3e38, 0, 32);
    const poisoned = vision.replace(/\.ckpt$/, '-poisoned.ckpt');
    saveCheckpoint(poisoned, ckpt.meta, tensors);
    const firstTwo = (i: number) => Math.floor(i / 28) % 7 === 0 && (i % 28) % 7 < 2;
    const dark = Array.from({ length: 784 }, (_, i) => (firstTwo(i) ? 0 : (i % 7) / 7)), lit = dark.map((v, i) => (i < 2 ? 1 : v));
    for (const devices of [1, 2]) {
      const model = await loadModel(poisoned, { devices, maxBatch: 4, maxWaitMs: 20 });
      try {
        const [a, b, c, d] = await Promise.allSettled([model.classify([dark]), model.classify([lit]), model.classify([dark.map((v, i) => (i === 5 ? 1e39 : v))]), model.classify([dark])]);
        assert.equal(a.status, 'fulfilled', `${devices} device(s): the dark image is answered`);
        assert.equal(d.status, 'fulfilled');
        assert.match(String((b as PromiseRejectedResult).reason), /the model's output for this request \(row 0\) is (NaN|-?Infinity): not answered/);
        assert.match(String((c as PromiseRejectedResult).reason), /classify: image 0, pixel 5 is 1e\+39, outside \[−10000, 10000\]/);
        assert.equal(model.engine.state, 'ok', 'no device went down');
        assert.equal((await model.classify([dark]))[0]!.label, (a as PromiseFulfilledResult<{ label: number }[]>).value[0]!.label);
      } finally {
        await model.close();
      }
    }
  });

  for (const policy of ['static', 'fastermoe']) it(`a device crash fails the requests in flight quickly, then the model recovers (${policy})`, async () => {
    const { clusterA100 } = await import('../src/sched/cost.js');
    // Under fastermoe the rebuilt devices shadow again (their scratch copies are made anew).
    const model = await loadModel(gpt, { devices: 2, maxBatch: 2, policy, profile: { ...clusterA100, dModel: 32, dFF: 8 } });
    try {
      const engine = model.engine as DeviceEngine;
      const recovered = firstValueFrom(model.events$.pipe(filter((e) => e.type === 'recovered')));
      const inFlight = prompts.map((p, i) => model.generate(p, { maxTokens: 200, seed: i }));
      while (!model.stats.passes) await new Promise((r) => setImmediate(r)); // traffic is flowing
      engine.crashDevice(1);
      const results = await Promise.allSettled(inFlight);
      const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      assert.ok(failed.length > 0, 'the requests in the interrupted pass fail');
      // Failed by the crash being seen (the device's exit), not by waiting out a timeout.
      for (const f of failed) assert.match(f.reason.message, /serving failed: .*device 1 crashed/);
      for (const f of failed) assert.doesNotMatch(f.reason.message, /timed out|no reply/);
      await recovered;
      assert.equal(engine.healthy, true);
      const before = model.stats.shadowedPasses, passes = model.stats.passes;
      assert.equal((await model.generate('The whale', { maxTokens: 3, seed: 1 })).length, 3, 'serves again after recovery');
      // Shadowing pays in some passes only (a few percent here): serve the same traffic as before the crash for a while.
      if (policy === 'fastermoe') {
        await Promise.all(prompts.map((p, i) => model.generate(p, { maxTokens: 60, seed: i })));
        assert.ok(model.stats.shadowedPasses > before, `and shadows again (${model.stats.shadowedPasses - before} of ${model.stats.passes - passes} passes)`);
      }
    } finally {
      await model.close();
    }
  });
});
