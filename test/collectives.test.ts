import assert from 'node:assert/strict';
import { SPLIT_FLOATS } from '../src/runtime/collectives.js';
import type { ActorRef } from '../src/runtime/actor.js';
import type { ActorSystem } from '../src/runtime/system.js';
import { Rng } from '../src/nn/random.js';
import type { Parameter } from '../src/nn/parameter.js';
import { stagedRuns } from '../src/train/grad-sync.js';
import { CollectiveWorker, Streamer } from './fixtures/actors.js';
import { nextEvent, startSystem } from './support/system.js';

describe('collectives and channels across 3 devices', function () {
  this.timeout(60_000);
  let system: ActorSystem;
  let workers: ActorRef[];
  before(async () => {
    system = await startSystem({ devices: 3 });
    workers = await Promise.all([0, 1, 2].map((d) => system.spawn(CollectiveWorker, {}, { device: d })));
  });
  after(() => system?.stop());

  const randomParts = (rng: Rng, n: number) =>
    Array.from({ length: n }, () => Array.from({ length: rng.int(3) === 0 ? 0 : rng.int(50) }, () => (Math.round(rng.normal() * 100) || 0) / 8));

  it('all-to-all with variable sizes (empty parts included) equals the sequential exchange', async () => {
    const rng = new Rng(9);
    for (let round = 0; round < 10; round++) {
      const sent = [0, 1, 2].map(() => randomParts(rng, 3));
      const got = await Promise.all(workers.map((w, d) => system.ask<number[][]>(w, { op: 'allToAll', parts: sent[d] })));
      for (let d = 0; d < 3; d++) for (let s = 0; s < 3; s++) assert.deepEqual(got[d]![s], sent[s]![d], `round ${round}: device ${d} from ${s}`);
    }
  });

  it('all-reduce over any subset equals a sequential sum, identically on every member', async () => {
    const rng = new Rng(4);
    // Short vectors go whole; long ones (≥ SPLIT_FLOATS) as reduce-scatter + all-gather, in slices
    // that do not divide evenly: both must sum in ascending device order.
    for (const n of [33, SPLIT_FLOATS + 7]) {
      for (const group of [[0, 1, 2], [0, 2], [1, 2], [1]]) {
        const values = group.map(() => Float32Array.from({ length: n }, () => rng.normal()));
        const got = await Promise.all(group.map((d, i) => system.ask<number[]>(workers[d]!, { op: 'allReduce', values: Array.from(values[i]!), group })));
        const expected = new Float32Array(n);
        for (const v of values) for (let i = 0; i < n; i++) expected[i]! += v[i]!;
        for (const g of got) assert.ok(g.length === n && g.every((x, i) => Object.is(x, expected[i])), `group [${group}], ${n} values: bit-identical to the sequential sum`);
      }
    }
  });

  it('broadcast from any root', async () => {
    const got = await Promise.all(workers.map((w) => system.ask<number[]>(w, { op: 'broadcast', root: 2, values: [1, 2, 3] })));
    for (const g of got) assert.deepEqual(g, [1, 2, 3]);
  });

  it('a collective with a device outside the group is an error', async () => {
    await assert.rejects(system.ask(workers[0]!, { op: 'allReduce', values: [1], group: [1, 2] }), /allReduce: device 0 is not in group \[1,2\]/);
  });

  it('stress: 2 streams of 400 frames each, some larger than a ring frame, arrive intact and in order', async () => {
    const senders = await Promise.all([0, 1].map((d) => system.spawn(Streamer, {}, { device: d })));
    const receivers = await Promise.all([1, 2].map((d) => system.spawn(Streamer, {}, { device: d })));
    const [bad1, bad2] = await Promise.all([
      system.ask<number>(receivers[0]!, { recv: { peer: 0, count: 400, seed: 1 } }, { timeoutMs: 50_000 }),
      system.ask<number>(receivers[1]!, { recv: { peer: 1, count: 400, seed: 2 } }, { timeoutMs: 50_000 }),
      system.ask(senders[0]!, { send: { peer: 1, count: 400, seed: 1 } }, { timeoutMs: 50_000 }),
      system.ask(senders[1]!, { send: { peer: 2, count: 400, seed: 2 } }, { timeoutMs: 50_000 }),
    ]);
    assert.equal(bad1, 0);
    assert.equal(bad2, 0);
    const stats = await system.stats();
    assert.ok(stats[0]!.channels.find((c) => c.peer === 1)!.sentFrames >= 400);
  });
});

describe('all-reduce over shared memory', function () {
  this.timeout(60_000);
  let system: ActorSystem;
  let workers: ActorRef[];
  // Regions of 512 KiB (2 × SPLIT_FLOATS floats), so longer vectors go in chunks.
  before(async () => {
    system = await startSystem({ devices: 3, reduceBytes: 8 * SPLIT_FLOATS });
    workers = await Promise.all([0, 1, 2].map((d) => system.spawn(CollectiveWorker, {}, { device: d })));
  });
  after(() => system?.stop());

  const reduce = (group: number[], values: Float32Array[], extra: { staged?: boolean; tag?: number } = {}) =>
    Promise.all(group.map((d, i) => system.ask<number[]>(workers[d]!, { op: 'allReduce', values: Array.from(values[i]!), group, ...extra })));

  it('equals the float64 sum within 1e-6 relative, the same bits on every member, in chunks or staged, as over the channels', async () => {
    const rng = new Rng(11);
    // Staged vectors fit the region; the other spans two chunks.
    for (const [n, staged] of [[SPLIT_FLOATS + 3, true], [3 * SPLIT_FLOATS + 5, false]] as const) {
      for (const group of [[0, 1, 2], [0, 2]]) {
        const values = group.map(() => Float32Array.from({ length: n }, () => rng.normal()));
        const ring = await reduce(group, values, { tag: 77 });
        const shared = await reduce(group, values, staged ? { staged: true } : {});
        const again = await reduce(group, values, staged ? { staged: true } : {});
        for (let i = 0; i < n; i++) {
          let exact = 0, scale = 0;
          for (const v of values) (exact += v[i]!), (scale += Math.abs(v[i]!));
          assert.ok(Math.abs(shared[0]![i]! - exact) <= 1e-6 * scale + 1e-30, `[${group}] value ${i}: ${shared[0]![i]} against ${exact}`);
        }
        for (const [k, g] of shared.entries()) {
          assert.ok(g.every((x, i) => Object.is(x, shared[0]![i])), `[${group}] member ${k} differs from member 0`);
          assert.ok(g.every((x, i) => Object.is(x, ring[0]![i])), `[${group}] member ${k}: shared memory and channels sum differently`);
          assert.ok(g.every((x, i) => Object.is(x, again[k]![i])), `[${group}] member ${k}: a second run gave other bits`);
        }
      }
    }
  });

  it('into sinks: the sum read straight from the regions into vectors that straddle slices and chunks, the same bits', async () => {
    const rng = new Rng(5);
    const n = 3 * SPLIT_FLOATS + 5;
    const group = [0, 1, 2];
    const values = group.map(() => Float32Array.from({ length: n }, () => rng.normal()));
    const whole = await reduce(group, values);
    // Sizes that cut across every member's slice and the chunk boundary (regions hold 2 × SPLIT_FLOATS).
    const sinks = [7, SPLIT_FLOATS + 1, SPLIT_FLOATS - 3, n - 2 * SPLIT_FLOATS - 5];
    for (const staged of [false, true]) {
      const m = staged ? SPLIT_FLOATS + 9 : n;
      const vs = staged ? values.map((v) => v.slice(0, m)) : values;
      const ks = staged ? [5, SPLIT_FLOATS, 4] : sinks;
      const want = staged ? await reduce(group, vs) : whole;
      const got = await Promise.all(group.map((d, i) => system.ask<number[]>(workers[d]!, { op: 'allReduce', values: Array.from(vs[i]!), group, staged, sinks: ks })));
      for (const g of got) assert.ok(g.length === m && g.every((x, i) => Object.is(x, want[0]![i])), `staged ${staged}: the sinks hold the sum`);
    }
  });

  it('gradients of a bucket larger than the region: summed in region-sized runs of whole parameters', async () => {
    const rng = new Rng(9);
    // Regions hold 2 × SPLIT_FLOATS floats: runs of [0, 1], [2], [3] (larger than a region, alone), [4].
    const sizes = [SPLIT_FLOATS, SPLIT_FLOATS - 8, SPLIT_FLOATS + 3, 2 * SPLIT_FLOATS + 1, 5];
    assert.deepEqual(stagedRuns(sizes.map((n) => ({ grad: { size: n } }) as Parameter), 2 * SPLIT_FLOATS).map((r) => r.map((p) => sizes.indexOf(p.grad.size))), [[0, 1], [2], [3], [4]]);
    assert.equal(stagedRuns(sizes.map((n) => ({ grad: { size: n } }) as Parameter), 0).length, 1, 'no region: one run');
    const n = sizes.reduce((a, b) => a + b, 0);
    const values = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => rng.normal()));
    const want = await reduce([0, 1, 2], values);
    const got = await Promise.all([0, 1, 2].map((d) => system.ask<number[]>(workers[d]!, { op: 'syncGradients', values: Array.from(values[d]!), sinks: sizes })));
    for (const g of got) assert.ok(g.length === n && g.every((x, i) => Object.is(x, want[0]![i])), 'every gradient holds the sum, the same bits as one all-reduce of the whole vector');
  });

  it('overlapping groups in flight at once: each pair meets in its own order', async () => {
    const n = SPLIT_FLOATS + 1;
    const ones = (v: number) => new Float32Array(n).fill(v);
    // Device 1 takes [0,1] then [1,2] in mailbox order; device 2 starts [1,2] at once and waits.
    const a = reduce([0, 1], [ones(1), ones(2)]);
    const b = reduce([1, 2], [ones(10), ones(20)]);
    const [ra, rb] = await Promise.all([a, b]);
    for (const r of ra) assert.ok(r.every((x) => x === 3));
    for (const r of rb) assert.ok(r.every((x) => x === 30));
  });

  it('a rebuilt device takes part again: the signals restart for it and its peers', async () => {
    const up = nextEvent(system, (e) => e.type === 'actor-restored' && e.ref.id === workers[2]!.id, 30_000);
    system.crashDevice(2, 'exit');
    await up;
    const n = SPLIT_FLOATS + 9;
    const got = await reduce([0, 1, 2], [1, 2, 3].map((v) => new Float32Array(n).fill(v)));
    for (const r of got) assert.ok(r.every((x) => x === 6));
  });
});

describe('the all-reduce probe (flexmoe calibrate, bench/channels.ts)', function () {
  this.timeout(60_000);
  let system: ActorSystem;
  before(async () => {
    system = await startSystem({ modules: [new URL('../src/sched/allreduce-probe.ts', import.meta.url)] });
  });
  after(() => system?.stop());

  it('times each path and checks what it read: the sums, and for the cross-core floor the peer\'s values', async () => {
    const probes = await Promise.all([0, 1].map((d) => system.spawn('AllReduceProbe', {}, { device: d })));
    for (const path of ['shared', 'staged', 'crosscore'] as const) {
      const times = await Promise.all(probes.map((p) => system.ask<number[]>(p, { floats: SPLIT_FLOATS, iterations: 3, path })));
      for (const t of times) assert.ok(t.length === 3 && t.every((ms) => ms >= 0), `${path}: ${t}`);
    }
    await assert.rejects(system.ask(probes[0]!, { floats: 1 << 30, iterations: 1, path: 'crosscore' }), /do not fit the shared region/);
  });
});
