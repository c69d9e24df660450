import assert from 'node:assert/strict';
import { SPLIT_FLOATS } from '../src/runtime/collectives.js';
import type { ActorRef } from '../src/runtime/actor.js';
import type { ActorSystem } from '../src/runtime/system.js';
import { Rng } from '../src/nn/random.js';
import { CollectiveWorker, Streamer } from './fixtures/actors.js';
import { startSystem } from './support/system.js';

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
