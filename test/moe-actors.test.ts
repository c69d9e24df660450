import assert from 'node:assert/strict';
import type { ActorSystem } from '../src/runtime/system.js';
import type { OwnedState } from '../src/moe/owned-state.js';
import type { ExpertArgs } from '../actors/expert.js';
import { fixtures, startSystem } from './support/system.js';
import { siblingModule } from '../src/runtime/thread.js';
import { LocalProbe, WeightHolder } from './fixtures/actors.js';

const modules = [fixtures, siblingModule('../actors/expert', import.meta.url), siblingModule('../actors/gate', import.meta.url)];
const args: ExpertArgs = { name: 'block0.moe.expert1', dModel: 8, dFF: 16, seed: 42, optimizer: { lr: 1e-3 }, backend: 'reference' };

const received = async (system: ActorSystem, device: number, from: number) => (await system.stats()).find((s) => s.device === device)!.channels.find((c) => c.peer === from)!.receivedFrames;

describe('expert and gate actors on the runtime', function () {
  this.timeout(60_000);
  let system: ActorSystem;
  beforeEach(async () => (system = await startSystem({ modules })));
  afterEach(() => system.stop());

  it('an expert actor starts from its seed: two spawns with one seed hold the same parameters', async () => {
    const a = await system.spawn('Expert', args, { device: 0 });
    const b = await system.spawn('Expert', args, { device: 1 });
    const c = await system.spawn('Expert', { ...args, seed: 43 }, { device: 1 });
    const [sa, sb, sc] = await Promise.all([a, b, c].map((r) => system.ask<OwnedState>(r, { type: 'state' })));
    assert.equal(sa.tensors.length, 4 * 3, 'value, m, v of up.weight, up.bias, down.weight, down.bias');
    assert.deepEqual(sa.tensors, sb.tensors);
    assert.notDeepEqual(sa.tensors[0], sc.tensors[0]);
  });

  it('clone ships the state device to device over the channel: identical parameters, moments and step', async () => {
    // Weights of 16×32: each weight, m and v (512 floats) travels as a tensor of its own; biases ride in the skeleton.
    const a = await system.spawn('Expert', { ...args, dModel: 16, dFF: 32 }, { device: 0 });
    const before = await received(system, 1, 0);
    const c = await system.clone(a, 1);
    assert.equal((await received(system, 1, 0)) - before, 1 + 2 * 3, 'the skeleton and six arrays arrived on device 1 through the ring from device 0');
    assert.deepEqual(await system.ask(c, { type: 'state' }), await system.ask(a, { type: 'state' }));
    assert.equal((await system.ask<{ name: string }>(c, { type: 'describe' })).name, 'block0.moe.expert1');
  });

  it('migrate moves the expert: same state on the new device, the old copy is gone', async () => {
    const a = await system.spawn('Expert', args, { device: 0 });
    const state = await system.ask(a, { type: 'state' });
    const actorsOn = async (d: number) => (await system.stats()).find((s) => s.device === d)!.actors;
    const [n0, n1] = [await actorsOn(0), await actorsOn(1)];
    const moved = await system.migrate(a, 1);
    assert.equal(moved.device, 1);
    assert.deepEqual(await system.ask(moved, { type: 'state' }), state);
    assert.deepEqual([await actorsOn(0), await actorsOn(1)], [n0 - 1, n1 + 1]);
  });

  it('ctx.local reaches an actor on the same device directly, and nothing on another', async () => {
    const probe = await system.spawn(LocalProbe, {}, { device: 0 });
    const near = await system.spawn(WeightHolder, { n: 4, seed: 1 }, { device: 0 });
    const far = await system.spawn(WeightHolder, { n: 4, seed: 1 }, { device: 1 });
    assert.equal(await system.ask(probe, { ref: near }), 'local WeightHolder');
    assert.equal(await system.ask(probe, { ref: far }), 'not here');
    const moved = await system.migrate(near, 1);
    assert.equal(await system.ask(probe, { ref: near }), 'not here', 'the old address is gone once it moved');
    assert.equal(await system.ask(probe, { ref: moved }), 'not here');
  });

  it('a gate actor cloned onto another device holds the same state; a state of the wrong shape is refused by name', async () => {
    const gate = await system.spawn('Gate', { name: 'block0.moe.gate', dModel: 8, options: { experts: 4, topk: 2, routerSkew: 1 }, seed: 7, optimizer: { lr: 1e-3 }, backend: 'reference' }, { device: 0 });
    const copy = await system.clone(gate, 1);
    assert.deepEqual(await system.ask(copy, { type: 'state' }), await system.ask(gate, { type: 'state' }));
    const { setOwnedState } = await import('../src/moe/owned-state.js');
    const { AdamW } = await import('../src/nn/adamw.js');
    const { ExpertFFN } = await import('../src/nn/ffn.js');
    const { Rng } = await import('../src/nn/random.js');
    const { createBackend } = await import('../src/kernels/backend.js');
    const be = await createBackend('reference');
    const ffn = new ExpertFFN(be, 8, 16, { rng: new Rng(1), name: 'x' });
    const opt = new AdamW(be, ffn.parameters(), { lr: 1e-3 });
    const good = await system.ask<OwnedState>(await system.spawn('Expert', args, { device: 0 }), { type: 'state' });
    assert.throws(() => setOwnedState('x', ffn.parameters(), opt, { step: 1, tensors: good.tensors.slice(1) }), /restore x: state holds 11 tensors, expected 12/);
    const bad = good.tensors.map((t, i) => (i === 3 ? t.subarray(1) : t));
    const before = Float32Array.from(ffn.up.weight.value.data);
    assert.throws(() => setOwnedState('x', ffn.parameters(), opt, { step: 1, tensors: bad }), /x.up.bias: 15 values, expected 16/);
    assert.deepEqual(ffn.up.weight.value.data, before, 'nothing changed');
    be.dispose();
  });

  it('a serving expert reads its weights from a checkpoint on its device and carries weights only', async () => {
    const { saveCheckpoint } = await import('../src/train/checkpoint.js');
    const { mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'flexmoe-expert-')), 'w.ckpt');
    const shapes: Record<string, number[]> = { 'block0.moe.expert1.up.weight': [8, 16], 'block0.moe.expert1.up.bias': [16], 'block0.moe.expert1.down.weight': [16, 8], 'block0.moe.expert1.down.bias': [8] };
    const tensors = new Map(Object.entries(shapes).map(([k, shape], i) => [k, { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, j) => i + j / 1000) }]));
    saveCheckpoint(file, {}, tensors);
    const serving = { ...args, optimizer: undefined, checkpoint: file };
    const a = await system.spawn('Expert', serving, { device: 0 });
    const c = await system.clone(a, 1);
    const state = await system.ask<OwnedState>(c, { type: 'state' });
    assert.equal(state.tensors.length, 4, 'one tensor per parameter: no Adam moments');
    assert.deepEqual(state.tensors, [...tensors.values()].map((t) => t.data));
    tensors.delete('block0.moe.expert1.down.bias');
    saveCheckpoint(file, {}, tensors);
    await assert.rejects(system.spawn('Expert', serving, { device: 1 }), /lacks parameter block0\.moe\.expert1\.down\.bias/);
  });

  it('a state splits into a skeleton and its large arrays, and joins back exactly', async () => {
    const { joinState, splitState } = await import('../src/runtime/codec.js');
    const big = Float32Array.from({ length: 300 }, (_, i) => i), small = new Float32Array([1, 2]), ints = new Int32Array(400).fill(7);
    const state = { args: { name: 'x', n: 3 }, tensors: [big, small], nested: { ints, none: null, list: [1, 'a'] } };
    const { skeleton, arrays } = splitState(state);
    assert.deepEqual(arrays, [big, ints]);
    assert.equal((skeleton as { tensors: unknown[] }).tensors[1], small, 'short arrays stay in the skeleton');
    assert.deepEqual(joinState(skeleton, arrays), state);
  });
});
