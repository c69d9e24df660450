import assert from 'node:assert/strict';
import { createDefaultBackend } from '../src/kernels/backend.js';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import { CharTransformer, type CharTransformerConfig } from '../src/models/char-transformer.js';
import { trainCharLM } from '../src/train/lm.js';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainDistributed } from '../src/train/distributed.js';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { smallRun } from './support/small-model.js';

describe('MoE training across devices (actors on worker threads)', function () {
  this.timeout(240_000);
  const chars = 100_000;
  const corpus = new CharCorpus(mobyDick().slice(0, chars));
  const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 3, moe: { experts: 4, topk: 2, routerSkew: 1 } };
  const steps = 20, batch = 8, lr = 3e-3;

  it('placement transparency: 1 device, 2 devices, 2 devices with a hot expert on both: the same losses over 20 steps', async () => {
    const be = await createDefaultBackend();
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
    for (const s of runs['two devices']) s.deviceExchangeMs.forEach((x, d) => assert.ok(x > 0 && x <= s.deviceMs[d]!, `step ${s.step}: exchanges ${x} ms of ${s.deviceMs[d]} ms on device ${d}`));
    // Expert compute is part of the busy time and apart from the exchanges.
    for (const s of runs['two devices']) {
      s.deviceExpertMs.forEach((x, d) => assert.ok(x > 0 && x + s.deviceExchangeMs[d]! <= s.deviceMs[d]!, `step ${s.step}: experts ${x} ms, exchanges ${s.deviceExchangeMs[d]} ms of ${s.deviceMs[d]} ms on device ${d}`));
      assert.ok(s.expertImbalanceMs >= 0 && s.expertImbalanceMs <= Math.max(...s.deviceExpertMs), `step ${s.step}: imbalance ${s.expertImbalanceMs} ms`);
    }
    const last = runs['two devices, expert 0 on both'].at(-1)!;
    assert.equal(last.expertCounts.length, 2, 'counts per MoE layer');
    assert.equal(last.expertCounts[0]!.reduce((a, b) => a + b, 0), batch * config.seq * 2, 'every token routed twice, counted once');
    assert.equal(last.sourceCounts[0]!.length, 2, 'counts per source device');
    last.sourceCounts[0]!.forEach((c) => assert.equal(c.reduce((a, b) => a + b, 0), (batch / 2) * config.seq * 2, 'each device routes its half'));
    assert.deepEqual(last.expertCounts[0], last.sourceCounts[0]![0]!.map((c, e) => c + last.sourceCounts[0]![1]![e]!));
    assert.ok(reference.at(-1)! < reference[0]!, 'and the loss falls');
  });

  it('gates routing by a workload (--routing) keep it skewed across steps, the same on 1 and 2 devices, placement-transparent', async () => {
    const routed = { ...config, moe: { experts: 4, topk: 2 as const, routing: 'zipf:2,drift' } };
    const one = await trainDistributed({ devices: 1, config: routed, steps: 8, batch, lr, corpusChars: chars });
    const plain = await trainDistributed({ devices: 2, config: routed, steps: 8, batch, lr, corpusChars: chars });
    const moved = await trainDistributed({ devices: 2, config: routed, steps: 8, batch, lr, corpusChars: chars, replicas: [[0], [1], [0, 1], [1]] });
    plain.forEach((s, i) => assert.ok(Math.abs(s.loss - moved[i]!.loss) <= 1e-5 * s.loss, `step ${i}: ${s.loss} vs ${moved[i]!.loss}`));
    // Draws hash a token's global position: the device count changes nothing.
    plain.forEach((s, i) => assert.ok(Math.abs(s.loss - one[i]!.loss) <= 1e-5 * s.loss, `step ${i}: 2 devices ${s.loss} vs 1 device ${one[i]!.loss}`));
    // Zipf(2) over 4 experts, top-2: the hottest expert is in nearly every token's pair, every step.
    for (const s of plain) for (const c of s.expertCounts) assert.ok(Math.max(...c) > 0.4 * c.reduce((a, b) => a + b, 0), `step ${s.step}: ${c}`);
    await assert.rejects(trainDistributed({ devices: 2, config: { ...config, moe: { experts: 4, topk: 2, routing: 'zipf' } }, steps: 1, batch, lr }), /routing: "zipf" is not zipf:S/);
  });

  it('bad layouts are refused with the reason', async () => {
    await assert.rejects(trainDistributed({ devices: 3, config, steps: 1, batch: 8, lr }), /global batch 8 does not split over 3 devices/);
    await assert.rejects(trainDistributed({ devices: 2, config, steps: 1, batch: 8, lr, replicas: [[0], [1], [2], [0]] }), /replicas must list 1\+ valid devices for each of 4 experts/);
  });

  it('a model of your own (registerTask) trains on devices with actor gates and experts, placement-transparent', async () => {
    const modules = [new URL('../examples/my-moe.ts', import.meta.url)];
    const own = { ...config, moe: { experts: 4, topk: 1 as const } };
    const run = (devices: number, replicas?: number[][]) => trainDistributed({ task: 'my-moe', modules, devices, config: own, steps: 6, batch, lr, corpusChars: chars, replicas });
    const one = await run(1);
    const two = await run(2, [[0, 1], [1], [0], [1]]);
    two.forEach((s, i) => assert.ok(Math.abs(s.loss - one[i]!.loss) <= 1e-5 * one[i]!.loss, `step ${i}: ${s.loss} vs ${one[i]!.loss}`));
    assert.ok(one.at(-1)!.loss < one[0]!.loss, 'and the loss falls');
    assert.equal(two[0]!.expertCounts.length, 1, 'one MoE layer, counted from the model (not config.layers)');
    await assert.rejects(trainDistributed({ task: 'their-moe', modules, devices: 1, config: own, steps: 1, batch, lr }), /unknown model "their-moe"; known: gpt-moe, bert-moe, vision-moe, (.*, )?my-moe/);
  });
});

describe('live placement changes during training', function () {
  this.timeout(240_000);
  const chars = 100_000;
  const corpus = new CharCorpus(mobyDick().slice(0, chars));
  const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 5, moe: { experts: 4, topk: 2, routerSkew: 1.5 } };

  it('expand, migrate and shrink between steps keep the losses of a static run; state moves to new replicas', async () => {
    const { Placement } = await import('../src/sched/placement.js');
    const { clusterA100 } = await import('../src/sched/cost.js');
    type Op = import('../src/sched/placement.js').PlacementOp;
    const script: Record<number, Op[]> = {
      3: [{ op: 'expand', expert: 0, device: 1 }],
      6: [{ op: 'migrate', expert: 2, from: 0, to: 1 }],
      9: [{ op: 'shrink', expert: 0, device: 0 }],
    };
    const scripted = () => ({
      name: 'scripted',
      initial: (D: number, S: number, E: number) => Placement.roundRobin(D, S, E),
      decide: (load: { step: number }) => script[load.step] ?? [],
      dispatch: () => ({ mode: 'split' as const }),
    });
    const base = { devices: 2, config, steps: 12, batch: 8, lr: 3e-3, corpusChars: chars };
    const fixed = await trainDistributed(base);
    const rebalances: number[] = [];
    const moves: string[] = [];
    const moving = await trainDistributed({
      ...base, slots: 4, policy: scripted, profile: clusterA100,
      onRebalance: (r) => (rebalances.push(r.step), moves.push(`${r.moves!.cloned}/${r.moves!.migrated}/${r.moves!.stopped}`)),
    });
    moving.forEach((s, i) => assert.ok(Math.abs(s.loss - fixed[i]!.loss) <= 1e-5 * fixed[i]!.loss, `step ${i}: ${s.loss} vs ${fixed[i]!.loss}`));
    assert.deepEqual(rebalances, [2, 2, 5, 5, 8, 8], 'each change, once per MoE layer, after the step before it');
    // Expert actors: expand clones one, migrate moves one, shrink stops one (per layer).
    assert.deepEqual(moves, ['1/0/0', '1/0/0', '0/1/0', '0/1/0', '0/0/1', '0/0/1']);
    assert.deepEqual(moving.map((s) => s.placementVersion), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    assert.ok(moving[2]!.replanMs > 0);
  });

  it('FasterMoE shadowing within each step: hot experts computed where their tokens are, the same losses and weights as a static run', async () => {
    const { clusterA100 } = await import('../src/sched/cost.js');
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-shadow-'));
    // Top-1: with top-2 under this skew the two hottest experts get nearly every token each, and
    // shadowing one alone shortens nothing (FasterMoE's greedy then stops at once).
    const top1 = { ...config, moe: { ...config.moe!, topk: 1 as const } };
    const base = { devices: 2, config: top1, steps: 10, batch: 8, lr: 3e-3, corpusChars: chars };
    const fixed = await trainDistributed({ ...base, checkpoint: join(dir, 'static.ckpt') });
    // Weights priced as if 8× narrower than the test model's: shipping them costs little next to the
    // hot expert's token traffic, so the greedy shadows in most steps.
    const profile = { ...clusterA100, dModel: config.dModel, dFF: config.dFF / 8 };
    const shadowed = await trainDistributed({ ...base, slots: 4, policy: 'fastermoe', profile, checkpoint: join(dir, 'fastermoe.ckpt') });
    shadowed.forEach((s, i) => assert.ok(Math.abs(s.loss - fixed[i]!.loss) <= 1e-5 * fixed[i]!.loss, `step ${i}: ${s.loss} vs ${fixed[i]!.loss}`));
    const steps = shadowed.filter((s) => s.shadows.some((l) => l.length));
    assert.ok(steps.length >= 5, `shadows in ${steps.length} of 10 steps`);
    for (const s of shadowed) {
      assert.equal(s.placementVersion, 0, 'shadowing never changes the placement');
      s.shadows.forEach((sh, l) => {
        assert.ok(sh.length <= 2, 'at most the 2 free slots per device');
        // The greedy shadows from the hottest down.
        const order = [...s.expertCounts[l]!.keys()].sort((a, b) => s.expertCounts[l]![b]! - s.expertCounts[l]![a]! || a - b);
        assert.deepEqual([...sh].sort(), order.slice(0, sh.length).sort(), `step ${s.step}, layer ${l}: shadows ${sh} on counts ${s.expertCounts[l]}`);
      });
    }
    // flexmoe-react: FlexMoE's plans between steps, and shadows within a step where the placement
    // cannot absorb the step's routing. Same losses again.
    const react = await trainDistributed({ ...base, slots: 4, policy: 'flexmoe-react', profile });
    react.forEach((s, i) => assert.ok(Math.abs(s.loss - fixed[i]!.loss) <= 1e-5 * fixed[i]!.loss, `flexmoe-react, step ${i}: ${s.loss} vs ${fixed[i]!.loss}`));
    assert.ok(react.some((s) => s.shadows.some((l) => l.length)), 'it shadowed in some step');
    // The shadows' gradients went home: every expert's weights and moments end as in the static run.
    const a = loadCheckpoint(join(dir, 'static.ckpt')).tensors, b = loadCheckpoint(join(dir, 'fastermoe.ckpt')).tensors;
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [name, t] of a) {
      const u = b.get(name)!.data;
      const worst = t.data.reduce((m, v, i) => Math.max(m, Math.abs(v - u[i]!)), 0);
      assert.ok(worst <= 1e-5, `${name}: differs by ${worst}`);
    }
  });

  it('shadowing on 4 devices with a replicated expert: weights go from its first replica to the devices without one, two groups at once', async () => {
    const { clusterA100 } = await import('../src/sched/cost.js');
    const top1 = { ...config, moe: { ...config.moe!, topk: 1 as const } };
    const base = { devices: 4, config: top1, steps: 8, batch: 8, lr: 3e-3, corpusChars: chars, replicas: [[0, 1], [1], [2], [3]], slots: 3 };
    const fixed = await trainDistributed(base);
    const profile = { ...clusterA100, devicesPerNode: 4, dModel: config.dModel, dFF: config.dFF / 8 };
    for (const policy of ['fastermoe', 'flexmoe-react']) {
      const h = await trainDistributed({ ...base, policy, profile });
      h.forEach((s, i) => assert.ok(Math.abs(s.loss - fixed[i]!.loss) <= 1e-5 * fixed[i]!.loss, `${policy}, step ${i}: ${s.loss} vs ${fixed[i]!.loss}`));
      // Expert 0 (on devices 0 and 1) travels to 2 and 3 only; shadowed with expert 1 (on 1), to 0, 2 and 3 as well.
      assert.ok(h.some((s) => s.shadows.some((l) => l.includes(0))), `${policy}: expert 0 shadowed`);
      if (policy === 'flexmoe-react') assert.ok(h.some((s) => s.shadows.some((l) => l.length === 2)), 'two experts with different groups in one step');
    }
  });

  it('policies that cannot run live are refused with what to use instead', async () => {
    const base = { devices: 2, config, steps: 1, batch: 8, lr: 3e-3, corpusChars: chars };
    await assert.rejects(trainDistributed({ ...base, policy: 'oracle' }), /the oracle is a lower bound .* live training supports static, static-unpadded, flexmoe, eplb, fastermoe, flexmoe-react/);
    await assert.rejects(trainDistributed({ ...base, policy: 'capacity' }), /--capacity-factor F/);
    await assert.rejects(trainDistributed({ ...base, policy: 'fastermoe' }), /a live policy needs a cost profile/);
  });
});

describe('checkpoints', function () {
  this.timeout(240_000);
  const { config, base } = smallRun(100_000, { layers: 1, seed: 7 });

  it('stop at step 4 on 2 devices, resume on 1: the loss trajectory continues as if never stopped', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'flexmoe-ckpt-')), 'run.ckpt');
    const straight = (await trainDistributed({ ...base, devices: 2 })).map((s) => s.loss);
    const firstHalf = await trainDistributed({ ...base, devices: 2, until: 4, checkpoint: file });
    const secondHalf = await trainDistributed({ ...base, devices: 1, resume: file });
    assert.deepEqual(firstHalf.map((s) => s.step), [0, 1, 2, 3]);
    assert.deepEqual(secondHalf.map((s) => s.step), [4, 5, 6, 7]);
    [...firstHalf, ...secondHalf].forEach((s, i) => assert.ok(Math.abs(s.loss - straight[i]!) <= 1e-5 * straight[i]!, `step ${i}: ${s.loss} vs ${straight[i]}`));
  });

  it('a corrupt, truncated, foreign or mismatched checkpoint fails with an error saying which', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-ckpt-'));
    const file = join(dir, 'ok.ckpt');
    await trainDistributed({ ...base, devices: 1, until: 1, checkpoint: file });
    // The single-file container (a shard's, or a checkpoint saved whole) is what gets damaged here.
    const whole = loadCheckpoint(file);
    saveCheckpoint(join(dir, 'single.ckpt'), whole.meta, whole.tensors);
    const bytes = readFileSync(join(dir, 'single.ckpt'));
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 3]! ^= 0xff;
    writeFileSync(join(dir, 'flipped.ckpt'), flipped);
    writeFileSync(join(dir, 'short.ckpt'), bytes.subarray(0, bytes.length - 100));
    writeFileSync(join(dir, 'text.ckpt'), 'hello');
    assert.throws(() => loadCheckpoint(join(dir, 'flipped.ckpt')), /flipped.ckpt is corrupt: checksum mismatch/);
    assert.throws(() => loadCheckpoint(join(dir, 'short.ckpt')), /short.ckpt is truncated: expected \d+ bytes, found \d+/);
    assert.throws(() => loadCheckpoint(join(dir, 'text.ckpt')), /text.ckpt is not a flexmoe checkpoint \(bad magic\)/);
    assert.throws(() => loadCheckpoint(join(dir, 'missing.ckpt')), /missing.ckpt cannot be read \(ENOENT\)/);
    await assert.rejects(trainDistributed({ ...base, config: { ...config, dModel: 16 }, devices: 1, resume: file }), /does not match this model: it has dModel 32, this model 16/);
    await assert.rejects(trainDistributed({ ...base, devices: 1, steps: 1, resume: file }), /ok.ckpt is at step 1; 1 steps leave nothing to train/);
    await assert.rejects(trainDistributed({ ...base, devices: 1, checkpoint: join(dir, 'no-such-dir', 'x.ckpt') }), /checkpoint: cannot write .*x.ckpt: ENOENT \(checked before training starts\)/);
    assert.ok(!readdirSync(dir).some((f) => f.includes('.tmp-')), 'no temporary files left behind');
    // Every path is checked before a device starts: what a run reads and what it writes.
    await assert.rejects(trainDistributed({ ...base, devices: 1, resume: join(dir, 'nope.ckpt') }), /resume: cannot read .*nope.ckpt: ENOENT \(checked before training starts\)/);
    await assert.rejects(trainDistributed({ ...base, devices: 1, recordTrace: join(dir, 'no-such-dir', 't.jsonl') }), /record-trace: cannot write .*t.jsonl: ENOENT \(checked before training starts\)/);
  });

  it("a killed run's temporary checkpoint files are removed; a live process's are left alone", async () => {
    const { removeStaleTemps } = await import('../src/train/checkpoint.js');
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-ckpt-'));
    const file = join(dir, 'run.ckpt');
    // Pids far above any this machine hands out stand for killed runs; the parent process is alive.
    for (const pid of [2 ** 30 + 1, 2 ** 30 + 2, process.ppid]) writeFileSync(`${file}.tmp-${pid}`, 'half a checkpoint');
    writeFileSync(join(dir, 'other.ckpt.tmp-1073741825'), 'another file');
    assert.equal(removeStaleTemps(file), 2);
    assert.deepEqual(readdirSync(dir).sort(), ['other.ckpt.tmp-1073741825', `run.ckpt.tmp-${process.ppid}`].sort());
    await trainDistributed({ ...base, devices: 1, until: 1, checkpoint: file });
    assert.ok(readdirSync(dir).includes('run.ckpt'));
  });

  it('a checkpoint whose checksum holds but whose structure does not is refused, naming what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-ckpt-'));
    const file = join(dir, 'ok.ckpt');
    await trainDistributed({ ...base, devices: 1, until: 1, checkpoint: file });
    // Rewrites the header of the checkpoint saved as one file (the blob and its checksum stay valid).
    const whole = loadCheckpoint(file);
    saveCheckpoint(file, whole.meta, whole.tensors);
    const bytes = readFileSync(file), len = bytes.readUInt32LE(8);
    const header = JSON.parse(bytes.toString('utf8', 12, 12 + len));
    const blob = bytes.subarray(12 + len + ((8 - ((12 + len) % 8)) % 8));
    const withHeader = (name: string, edit: (h: { tensors: { name: string; shape: number[]; offset: number; length: number }[] }) => void) => {
      const h = structuredClone(header);
      edit(h);
      const json = Buffer.from(JSON.stringify(h));
      const lead = Buffer.alloc(12);
      lead.write('FMOECKPT', 0, 'latin1');
      lead.writeUInt32LE(json.byteLength, 8);
      writeFileSync(join(dir, name), Buffer.concat([lead, json, Buffer.alloc((8 - ((12 + json.byteLength) % 8)) % 8), blob]));
      return join(dir, name);
    };
    assert.throws(() => loadCheckpoint(withHeader('offset.ckpt', (h) => (h.tensors[0]!.offset = 1e9))), /offset.ckpt is corrupt: tensor \S+ at byte 1000000000 .* lies outside the \d+-byte blob/);
    assert.throws(() => loadCheckpoint(withHeader('length.ckpt', (h) => (h.tensors[1]!.length += 1))), /length.ckpt is corrupt: tensor \S+ has length \d+ for shape/);
    assert.throws(() => loadCheckpoint(withHeader('overlap.ckpt', (h) => (h.tensors[1]!.offset = h.tensors[0]!.offset))), /overlap.ckpt is corrupt: tensors \S+ and \S+ overlap/);
    assert.throws(() => loadCheckpoint(withHeader('twice.ckpt', (h) => h.tensors.push(h.tensors[0]!))), /twice.ckpt is corrupt: tensor \S+ is listed twice/);
    assert.throws(() => loadCheckpoint(withHeader('shape.ckpt', (h) => (h.tensors[0]!.shape = [-1]))), /shape.ckpt is corrupt: tensor \S+ has shape \[-1\]/);
    // Valid files, wrong contents: a tensor left out, one too many, one of another size.
    const ckpt = loadCheckpoint(file);
    const edited = (name: string, edit: (t: Map<string, { shape: number[]; data: Float32Array }>) => void) => {
      const t = new Map(ckpt.tensors);
      edit(t);
      saveCheckpoint(join(dir, name), ckpt.meta, t);
      return join(dir, name);
    };
    const some = [...ckpt.tensors.keys()].find((k) => k.includes('expert') && !k.includes('#'))!;
    await assert.rejects(trainDistributed({ ...base, devices: 1, resume: edited('less.ckpt', (t) => t.delete(some)) }), new RegExp(`less.ckpt does not fit this model: it lacks ${some.replace(/[.]/g, '\\.')}`));
    await assert.rejects(trainDistributed({ ...base, devices: 1, resume: edited('more.ckpt', (t) => t.set('stray.weight', { shape: [2], data: new Float32Array(2) })) }), /more.ckpt holds 1 tensor\(s\) this model does not have: stray\.weight/);
    const { loadModel } = await import('../src/serve/load.js');
    await assert.rejects(loadModel(join(dir, 'more.ckpt')), /more.ckpt holds 1 tensor\(s\) this model does not have: stray\.weight/);
    await assert.rejects(trainDistributed({ ...base, devices: 1, resume: edited('size.ckpt', (t) => t.set(some, { shape: [3], data: new Float32Array(3) })) }), new RegExp(`size.ckpt does not fit this model: it has ${some.replace(/[.]/g, '\\.')} of shape \\[3\\]`));
  });
});

describe('Trainer.fit and events$', function () {
  this.timeout(240_000);
  it('calls back per batch, epoch and re-plan, reports held-out loss, in event order', async () => {
    const { Trainer } = await import('../src/train/trainer.js');
    const corpus = new CharCorpus(mobyDick().slice(0, 100_000));
    const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 2, moe: { experts: 4, topk: 1, routerSkew: 2 } };
    const { clusterA100 } = await import('../src/sched/cost.js');
    const trainer = new Trainer({ config, devices: 2, batch: 8, lr: 3e-3, corpusChars: 100_000, policy: 'flexmoe', slots: 4, profile: { ...clusterA100, devicesPerNode: 2, expertTflops: 0.002, denseTflops: 0.002, intraNodeGBps: 3, dModel: 32, dFF: 64 } });
    const types: string[] = [], runtime: string[] = [];
    trainer.events$.subscribe((e) => (types.push(e.type), e.type === 'runtime' && runtime.push(e.event.type)));
    const batches: number[] = [], epochs: number[] = [], rebalances: number[] = [];
    const history = await trainer.fit({ epochs: 2, stepsPerEpoch: 5, callbacks: { onBatchEnd: (b) => batches.push(b.step), onEpochEnd: (e) => epochs.push(e.epoch), onRebalance: (r) => rebalances.push(r.step) } });
    assert.deepEqual(batches, [...Array(10).keys()]);
    assert.deepEqual(epochs, [0, 1]);
    assert.ok(rebalances.length > 0, 'a skewed top-1 router (expert 0 hottest, devices unbalanced) makes FlexMoE re-plan');
    assert.equal(types[0], 'train-begin');
    assert.equal(types.at(-1), 'train-end');
    // The runtime's side: trainers, gates and experts spawned, the gate cloned onto device 1 at the
    // start, and the re-plans' expert clones or migrations.
    assert.ok(runtime.includes('actor-spawned') && runtime.filter((t) => t === 'actor-cloned' || t === 'actor-migrated').length > 1, runtime.join(' '));
    assert.ok(history[4]!.evalLoss! > 0 && history[9]!.evalLoss! < history[4]!.evalLoss!, 'held-out loss is measured each epoch and falls');
  });

  it('fits a model of your own (registerTask, modules) and reports its balance per MoE layer', async () => {
    const { Trainer } = await import('../src/train/trainer.js');
    const corpus = new CharCorpus(mobyDick().slice(0, 100_000));
    // layers: 2 in the config, but the model (examples/my-moe.ts) has one MoE layer.
    const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 2, moe: { experts: 4, topk: 1 } };
    const trainer = new Trainer({ task: 'my-moe', modules: [new URL('../examples/my-moe.ts', import.meta.url)], config, devices: 2, batch: 8, lr: 3e-3, corpusChars: 100_000 });
    const ratios: number[] = [];
    trainer.events$.subscribe((e) => e.type === 'batch-end' && ratios.push(e.balanceRatio));
    const history = await trainer.fit({ steps: 3 });
    assert.equal(history.length, 3);
    assert.equal(history[0]!.expertCounts.length, 1);
    assert.ok(ratios.length === 3 && ratios.every((r) => r >= 1 && Number.isFinite(r)));
  });
});

describe('the scheduler actor and routing traces from live training', function () {
  this.timeout(240_000);
  it('FlexMoE runs in the scheduler actor, explains each re-plan, and the recorded trace replays in the simulator', async () => {
    const { clusterA100 } = await import('../src/sched/cost.js');
    const { TraceSource } = await import('../src/sched/trace.js');
    const { simulate } = await import('../src/sched/simulate.js');
    const corpus = new CharCorpus(mobyDick().slice(0, 100_000));
    const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 1, seed: 2, moe: { experts: 4, topk: 1, routerSkew: 2 } };
    const file = join(mkdtempSync(join(tmpdir(), 'flexmoe-trace-')), 'live.jsonl');
    const plans: import('../src/train/distributed.js').Rebalance[] = [];
    const profile = { ...clusterA100, devicesPerNode: 2, expertTflops: 0.002, denseTflops: 0.002, intraNodeGBps: 3, dModel: 32, dFF: 64 };
    await trainDistributed({ devices: 2, config, steps: 8, batch: 8, lr: 3e-3, corpusChars: 100_000, slots: 4, policy: 'flexmoe', profile, reproducibleSchedule: true, recordTrace: file, onRebalance: (r) => plans.push(r) });
    assert.ok(plans.length > 0);
    assert.ok(plans.every((p) => p.predictedMsAfter! < p.predictedMsBefore! && p.migrationMs! >= 0), 'every plan predicts a faster step');
    // Carried out by the scheduler actor on the expert actors: each plan's expert changes were made.
    for (const p of plans) assert.ok(p.moves && p.moves.cloned + p.moves.migrated + p.moves.stopped > 0, `plan ${JSON.stringify(p.ops)} → ${JSON.stringify(p.moves)}`);
    const trace = TraceSource.read(file);
    assert.equal(trace.steps, 8);
    assert.equal(trace.experts, 4);
    // Per source device: two rows per step and layer, each a device's 8 × 16 top-1 assignments ÷ 2.
    assert.equal(trace.header.sourceDevices, 2);
    const step0 = trace.at(0, 2)[0]!;
    assert.equal(step0.length, 2);
    for (const row of step0) assert.equal(row.reduce((a, b) => a + b, 0), (8 / 2) * 16);
    const { reports } = simulate({ source: trace, devices: 2, slots: 4, profile, policies: ['static', 'flexmoe'] });
    assert.equal(reports.length, 2);
  });
});
